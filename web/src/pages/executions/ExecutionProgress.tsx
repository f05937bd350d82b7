/**
 * A running execution's progress: the newer of the live event in the
 * cache and the detail's own `progress` field, as a bar (indeterminate
 * while the total is unknown, as for a backup) and a line of numbers.
 */
import { useId } from "react";
import { useT } from "../../i18n";
import { latestProgress, summarize, type ExecutionDetail } from "./execution";
import { useLiveProgress } from "./shared";

export function ExecutionProgress({ execution }: { execution: ExecutionDetail }) {
  const t = useT();
  const headingId = useId();
  const live = useLiveProgress(execution.id);
  const progress = latestProgress(live, execution.progress ?? null);
  const s = progress ? summarize(progress) : null;
  return (
    <section className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t("executions.progress")}</h2>
      {/* Without a value the bar is indeterminate: it moves without claiming a share. */}
      {s?.value != null ? <progress aria-label={t("executions.progress")} max={100} value={s.value} /> : <progress aria-label={t("executions.progress")} />}
      <p className="progress-line">
        <span>{s ? (s.total ? t("executions.bytesOf", { done: s.done, total: s.total }) : s.done) : t("executions.starting")}</span>
        {s?.percent && <span>{s.percent}</span>}
        {s?.rate && <span>{s.rate}</span>}
        {s?.eta && <span>{t("executions.eta", { time: s.eta })}</span>}
        {progress?.phase && <span>{t("executions.phase", { phase: progress.phase })}</span>}
      </p>
    </section>
  );
}
