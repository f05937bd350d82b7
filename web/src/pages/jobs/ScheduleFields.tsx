/**
 * The schedule and its timezone, with the next five runs as the server's
 * scheduler computes them (`GET /api/backup-jobs/schedule-preview`), so
 * the operator sees what the cron means before saving. Asked only for
 * plausible expressions, ~300 ms after typing stops.
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { api, ok } from "../../api/client";
import { ApiFailure } from "../../api/errors";
import { useCan } from "../../auth";
import { SelectField, TextField } from "../../components/Field";
import { useT } from "../../i18n";
import { knownZones, looksComplete, previewRows } from "../../lib/cron";
import { FIELDS } from "./jobForm";
import { shownZone, useLocale } from "./queries";
import { relative } from "../../lib/format";

/** The browser's own zone: what a new job's schedule means by default. */
export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** `value`, once it has stopped changing for `ms`. */
function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

export function ScheduleFields({
  cron,
  timezone,
  onCron,
  onTimezone,
  errors,
}: {
  cron: string;
  timezone: string;
  onCron: (v: string) => void;
  onTimezone: (v: string) => void;
  /** Messages from the form's checks or the last save, by field name. */
  errors: Record<string, string | undefined>;
}) {
  const t = useT();
  const zones = useMemo(() => {
    const all = knownZones();
    // A zone the browser reports but does not list (e.g. "Etc/UTC") must stay choosable.
    return all.includes(timezone) || timezone === "" ? all : [timezone, ...all];
  }, [timezone]);
  const preview = useSchedulePreview(cron, timezone);
  const previewError = preview.error instanceof ApiFailure && preview.error.field === FIELDS.timezone ? "timezone" : preview.error ? "cron" : null;
  const previewMessage = preview.error instanceof Error ? preview.error.message : undefined;
  return (
    <div className="form-grid">
      <div>
        <TextField
          label={t("jobs.schedule")}
          value={cron}
          onChange={onCron}
          required
          autoComplete="off"
          placeholder="0 3 * * *"
          help={t("jobs.scheduleHelp")}
          error={errors[FIELDS.cron] ?? (previewError === "cron" ? previewMessage : undefined)}
        />
        <NextRuns runs={preview.runs} zone={preview.zone} />
      </div>
      <SelectField
        label={t("jobs.timezone")}
        value={timezone}
        onChange={onTimezone}
        options={zones.map((z) => ({ value: z, label: z }))}
        required
        help={t("jobs.timezoneHelp")}
        error={errors[FIELDS.timezone] ?? (previewError === "timezone" ? previewMessage : undefined)}
      />
    </div>
  );
}

/** The preview of what is typed now: runs (and the zone they were computed in) or the server's objection. */
function useSchedulePreview(cron: string, timezone: string) {
  const can = useCan();
  const settledCron = useDebounced(cron.trim(), 300);
  const settledZone = useDebounced(timezone, 300);
  const ready = looksComplete(settledCron) && settledZone !== "";
  const query = useQuery({
    queryKey: ["schedule-preview", settledCron, settledZone],
    queryFn: ({ signal }) =>
      ok(api.GET("/api/backup-jobs/schedule-preview", { params: { query: { schedule_cron: settledCron, schedule_timezone: settledZone } }, signal })),
    enabled: ready && can("jobs:read"),
    // A refused expression stays refused: asking again only repeats the error.
    retry: false,
    staleTime: 60_000,
    placeholderData: keepPreviousData,
  });
  const shown = ready && !query.isError && query.data;
  return {
    runs: shown ? query.data.next_runs : [],
    // The zone the server computed these runs for (while a new zone is asked, the old runs read in the old zone).
    zone: shown ? query.data.schedule_timezone : timezone,
    error: ready ? query.error : null,
  };
}

function NextRuns({ runs, zone }: { runs: readonly string[]; zone: string }) {
  const t = useT();
  const locale = useLocale();
  if (runs.length === 0) return null;
  const now = new Date();
  const shown = shownZone(zone) ?? browserZone();
  const rows = previewRows(runs, shown, browserZone(), locale);
  return (
    <div className="next-runs">
      <p className="help">{t("jobs.nextRunsIn", { zone: shown })}</p>
      <ol aria-label={t("jobs.nextRuns")}>
        {rows.map((r) => (
          <li key={r.when}>
            <time dateTime={r.when}>{r.inZone}</time> <span className="help">({relative(t, r.when, now)})</span>
          </li>
        ))}
      </ol>
    </div>
  );
}
