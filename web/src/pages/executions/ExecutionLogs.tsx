/**
 * An execution's log. Only new lines are fetched (`?after=` the last id
 * shown), every 2 s while the execution is queued or running, and once
 * more when it ends so the last lines are not missed.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useLayoutEffect, useRef } from "react";
import { api, ok } from "../../api/client";
import { ErrorNote, Loading } from "../../components/State";
import { useT } from "../../i18n";
import { useLocale } from "../jobs/queries";
import { appendLines, logText, type LogLine } from "./execution";
import { logsKey } from "./shared";

/** Lines asked for at a time; a longer backlog is read in several requests. */
const BATCH = 1000;
/** At most this many requests per refresh, so a huge log cannot keep one refresh going. */
const MAX_BATCHES = 10;

export function ExecutionLogs({ id, active }: { id: string; active: boolean }) {
  const t = useT();
  const headingId = useId();
  const logs = useLogLines(id, active);
  return (
    <section className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t("executions.logs")}</h2>
      {logs.isPending ? (
        <Loading />
      ) : logs.error ? (
        <ErrorNote error={logs.error} onRetry={() => logs.refetch()} />
      ) : logs.data.length === 0 ? (
        <p className="help">{t("executions.noLogs")}</p>
      ) : (
        <LogText lines={logs.data} />
      )}
    </section>
  );
}

function useLogLines(id: string, active: boolean) {
  const client = useQueryClient();
  const key = logsKey(id);
  const query = useQuery({
    queryKey: key,
    queryFn: async (): Promise<LogLine[]> => {
      let lines = client.getQueryData<LogLine[]>(key) ?? [];
      for (let i = 0; i < MAX_BATCHES; i++) {
        const after = lines.length > 0 ? lines[lines.length - 1].id : 0;
        const page = await ok(api.GET("/api/executions/{id}/logs", { params: { path: { id }, query: { after, limit: BATCH } } }));
        lines = appendLines(lines, page.data);
        if (page.data.length < BATCH) break;
      }
      return lines;
    },
    refetchInterval: active ? 2000 : false,
  });
  // The run just ended: its last lines may have been written after the last poll.
  const wasActive = useRef(active);
  const { refetch } = query;
  useEffect(() => {
    if (wasActive.current && !active) refetch();
    wasActive.current = active;
  }, [active, refetch]);
  return query;
}

/** The lines as text; it follows new lines while the reader is at the bottom. */
function LogText({ lines }: { lines: readonly LogLine[] }) {
  const locale = useLocale();
  const box = useRef<HTMLPreElement>(null);
  const atBottom = useRef(true);
  useLayoutEffect(() => {
    const el = box.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return (
    // Focusable so the log can be scrolled with the keyboard.
    <pre
      ref={box}
      className="logs"
      tabIndex={0}
      onScroll={(e) => {
        const el = e.currentTarget;
        atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
      }}
    >
      {lines.map((l) => logText(l, locale)).join("\n")}
    </pre>
  );
}
