/**
 * How many backups a job keeps, and, for a saved job, what the policy as
 * typed would delete now (`POST …/retention/dry-run`, nothing deleted),
 * so an operator can try a policy before saving it. A read-only form
 * (no `jobs:write`) still previews the stored policy: the dry run reads.
 */
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api, ok, type Schemas } from "../../api/client";
import { CheckboxField, FormError, TextField, useFieldMessage } from "../../components/Field";
import { Table } from "../../components/Table";
import { useT } from "../../i18n";
import { bytes, dateTime } from "../../lib/format";
import { checkRetention, FIELDS, placeJobFailure, toRetention, type JobFormValues } from "./jobForm";
import { freeObject } from "./payload";
import { useLocale } from "./queries";

type Report = Schemas["CleanupReport"];
type Removed = Schemas["Removed"];

export function RetentionFields({
  values,
  onChange,
  errors,
  jobId,
  readOnly,
}: {
  values: JobFormValues;
  onChange: (patch: Partial<JobFormValues>) => void;
  errors: Record<string, string | undefined>;
  /** A saved job's id: only a saved job has backups to preview against. */
  jobId?: string;
  /** The inputs are disabled; the preview stays. */
  readOnly?: boolean;
}) {
  const t = useT();
  const message = useFieldMessage();
  const [checks, setChecks] = useState<Record<string, string>>({});
  const dryRun = useMutation({
    mutationFn: (id: string) =>
      ok(api.POST("/api/backup-jobs/{id}/retention/dry-run", { params: { path: { id } }, body: { retention_policy: freeObject(toRetention(values)) } })),
  });
  const placed = dryRun.error ? placeJobFailure(dryRun.error) : { fields: {} as Record<string, string>, general: undefined };
  /** An edit makes the last preview's messages (about what was typed before) moot. */
  const edit = (patch: Partial<JobFormValues>) => {
    if (dryRun.isError) dryRun.reset();
    setChecks((c) => (Object.keys(c).length === 0 ? c : {}));
    onChange(patch);
  };
  /** The form's message first (it is about what Save would send), then the dry run's. */
  const error = (field: string) => errors[field] ?? message(checks[field]) ?? placed.fields[field];
  const preview = () => {
    const found = checkRetention(values);
    setChecks(found);
    if (jobId && Object.keys(found).length === 0) dryRun.mutate(jobId);
  };
  const number = (label: string, field: string, key: "maxBackups" | "keepDaily" | "keepWeekly" | "keepMonthly", help: string) => (
    <TextField label={label} type="number" inputMode="numeric" value={values[key]} onChange={(v) => edit({ [key]: v })} help={help} error={error(field)} />
  );
  return (
    <fieldset>
      <legend>{t("jobs.retention")}</legend>
      <p className="help">{t("jobs.retentionHelp")}</p>
      <fieldset className="bare" disabled={readOnly}>
        <div className="form-grid">
          {number(t("jobs.maxBackups"), FIELDS.maxBackups, "maxBackups", t("jobs.maxBackupsHelp"))}
          {number(t("jobs.keepDaily"), FIELDS.keepDaily, "keepDaily", t("jobs.keepDailyHelp"))}
          {number(t("jobs.keepWeekly"), FIELDS.keepWeekly, "keepWeekly", t("jobs.keepWeeklyHelp"))}
          {number(t("jobs.keepMonthly"), FIELDS.keepMonthly, "keepMonthly", t("jobs.keepMonthlyHelp"))}
        </div>
        <CheckboxField label={t("jobs.autoDelete")} checked={values.autoDelete} onChange={(v) => edit({ autoDelete: v })} help={t("jobs.autoDeleteHelp")} />
      </fieldset>
      {(errors[FIELDS.retention] || placed.fields[FIELDS.retention]) && <small className="field-error">{errors[FIELDS.retention] ?? placed.fields[FIELDS.retention]}</small>}
      {jobId && (
        <div className="actions">
          <button type="button" className="secondary" disabled={dryRun.isPending} onClick={preview}>
            {t("jobs.previewRetention")}
          </button>
        </div>
      )}
      <FormError message={placed.general} />
      {dryRun.data && <DryRunReport report={dryRun.data} />}
    </fieldset>
  );
}

function DryRunReport({ report }: { report: Report }) {
  const t = useT();
  const locale = useLocale();
  return (
    <div role="status">
      {report.deleted.length === 0 ? (
        <p className="success">{t("jobs.nothingDeleted", { kept: report.kept })}</p>
      ) : (
        <>
          <p className="note">{t("jobs.wouldDelete", { count: report.deleted.length, size: bytes(report.bytes_freed), kept: report.kept })}</p>
          <Table<Removed>
            caption={t("jobs.wouldDeleteCaption")}
            rows={report.deleted}
            rowKey={(r) => r.execution_id}
            columns={[
              { header: t("jobs.col.backup"), cell: (r) => <Link to={`/executions/${r.execution_id}`}>{dateTime(r.created_at, undefined, locale)}</Link> },
              { header: t("jobs.col.size"), cell: (r) => bytes(r.compressed_size_bytes), className: "num" },
              { header: t("jobs.col.reason"), cell: (r) => r.reason },
            ]}
          />
        </>
      )}
      {report.errors.length > 0 && (
        <ul className="field-error">
          {report.errors.map((e) => (
            <li key={e}>{e}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
