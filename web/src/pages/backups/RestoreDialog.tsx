/**
 * The restore dialog: the form (storage, target, verification or a
 * confirmed real restore), then, once the server accepted it, the new
 * execution's live state in the same dialog, so the person sees the
 * outcome where they asked for it.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { api, ok } from "../../api/client";
import { placeFailure } from "../../api/errors";
import { useCan } from "../../auth";
import { useDateTime } from "../../components/dates";
import { Dialog } from "../../components/Dialog";
import { CheckboxField, FormError, SelectField, TextField, useFieldMessage } from "../../components/Field";
import { ErrorNote, Loading } from "../../components/State";
import { Status } from "../../components/Status";
import { useT, type MessageKey } from "../../i18n";
import { bytes, decimal, duration, rate } from "../../lib/format";
import { progressKey, type Progress } from "../../live";
import {
  backupType,
  buildRestoreRequest,
  canStart,
  confirmationText,
  initialForm,
  isFinished,
  progressValue,
  readableCopies,
  RESTORE_FIELDS,
  storedDatabases,
  targetOptions,
  updateForm,
  type Backup,
  type RestoreForm,
  type RestoreRequest,
} from "./restore";
import { backupDate } from "./shared";

/** How often the dialog asks for the execution while it runs (live events refresh it too). */
const POLL_MS = 1500;

/** One dialog for the page; `backup` null means closed. */
export function RestoreDialog({
  backup,
  datasource,
  onClose,
}: {
  backup: Backup | null;
  /** The datasource whose backups the page lists (the backup's own). */
  datasource: { id: string; name: string };
  onClose: () => void;
}) {
  const t = useT();
  const when = useDateTime();
  const client = useQueryClient();
  // The list shows restored dates and copies' state: a restore may change both.
  const close = () => {
    client.invalidateQueries({ queryKey: ["backups"] });
    onClose();
  };
  return (
    <Dialog
      open={backup !== null}
      onClose={close}
      title={backup ? t("backups.restoreTitle", { datasource: datasource.name, date: when(backupDate(backup)) }) : ""}
    >
      {backup && <RestoreBody key={backup.id} backup={backup} datasource={datasource} onClose={close} />}
    </Dialog>
  );
}

/** The form until the server accepts the restore, then its execution. */
function RestoreBody({ backup, datasource, onClose }: { backup: Backup; datasource: { id: string; name: string }; onClose: () => void }) {
  const [executionId, setExecutionId] = useState<string | null>(null);
  if (executionId) return <RestoreRun id={executionId} onClose={onClose} />;
  return <RestoreFormView backup={backup} datasource={datasource} onStarted={setExecutionId} onCancel={onClose} />;
}

function RestoreFormView({
  backup,
  datasource,
  onStarted,
  onCancel,
}: {
  backup: Backup;
  datasource: { id: string; name: string };
  onStarted: (executionId: string) => void;
  onCancel: () => void;
}) {
  const t = useT();
  const can = useCan();
  const message = useFieldMessage();
  const [form, setForm] = useState<RestoreForm>(() => initialForm(backup, datasource.id));
  const [clientErrors, setClientErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<{ fields: Record<string, string>; general?: string }>({ fields: {} });

  // Without the right to list datasources, the backup's own is the only target offered.
  const datasources = useQuery({
    queryKey: ["datasources", { limit: 500 }],
    queryFn: () => ok(api.GET("/api/datasources", { params: { query: { limit: 500 } } })),
    enabled: can("datasources:read"),
  });
  const targets = targetOptions(datasources.data?.data, datasource, backupType(backup));
  const target = targets.find((o) => o.id === form.targetId);
  const databases = storedDatabases(backup);

  const start = useMutation({
    mutationFn: (body: RestoreRequest) =>
      ok(api.POST("/api/backups/{execution_id}/restore", { params: { path: { execution_id: backup.id } }, body })),
    onSuccess: (accepted) => onStarted(accepted.execution_id),
    onError: (e) => setFailure(placeFailure(e, RESTORE_FIELDS)),
  });

  const change = (patch: Partial<RestoreForm>) => setForm((f) => updateForm(f, patch));
  const errorOf = (field: string) => message(clientErrors[field]) ?? failure.fields[field];

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const built = buildRestoreRequest(form, backup);
    setClientErrors(built.errors);
    setFailure({ fields: {} });
    if (built.request) start.mutate(built.request);
  };

  const copyOptions = readableCopies(backup).map((c) => ({
    value: c.storage_location_id,
    label: c.availability === "available" ? c.storage_name : t("backups.storageUnchecked", { name: c.storage_name }),
  }));
  const confirmError = clientErrors.confirm_overwrite ? t("backups.confirmRequired") : failure.fields.confirm_overwrite;

  return (
    <form onSubmit={submit} noValidate>
      <SelectField
        label={t("backups.storage")}
        value={form.storageId}
        onChange={(v) => change({ storageId: v })}
        options={copyOptions}
        help={t("backups.storageHelp")}
        error={errorOf("storage_location_id")}
      />
      <SelectField
        label={t("backups.target")}
        value={form.targetId}
        onChange={(v) => change({ targetId: v })}
        options={targets.map((o) => ({ value: o.id, label: o.name }))}
        help={t("backups.targetHelp")}
        error={errorOf("target_datasource_id")}
      />
      {databases !== null && (
        <SelectField
          label={t("backups.sourceDatabase")}
          value={form.database}
          onChange={(v) => change({ database: v })}
          options={databases.map((d) => ({ value: d, label: d }))}
          help={t("backups.sourceDatabaseHelp")}
          error={errorOf("database")}
          required
        />
      )}
      <CheckboxField
        label={t("backups.verification")}
        checked={form.verification}
        onChange={(v) => change({ verification: v })}
        help={t("backups.verificationHelp")}
      />
      {!form.verification && (
        <>
          <TextField
            label={t("backups.targetDatabase")}
            value={form.targetDatabase}
            onChange={(v) => change({ targetDatabase: v })}
            help={t("backups.targetDatabaseHelp", { database: target?.database ?? t("backups.itsDatabase") })}
            error={errorOf("target_database")}
            autoComplete="off"
          />
          <CheckboxField
            label={t("backups.dropExisting")}
            checked={form.dropExisting}
            onChange={(v) => change({ dropExisting: v })}
            help={t("backups.dropExistingHelp")}
          />
        </>
      )}
      <TextField
        label={t("backups.jobs")}
        value={form.jobs}
        onChange={(v) => change({ jobs: v })}
        help={t("backups.jobsHelp")}
        error={errorOf("jobs")}
        inputMode="numeric"
        autoComplete="off"
      />
      {!form.verification && (
        <div className="restore-confirm">
          <p className="note">{t("backups.warning")}</p>
          <CheckboxField label={confirmationText(t, form, target)} checked={form.confirmed} onChange={(v) => change({ confirmed: v })} />
          {confirmError && <small className="field-error">{confirmError}</small>}
        </div>
      )}
      <FormError message={failure.general} />
      <div className="actions end">
        <button type="button" className="secondary" onClick={onCancel}>
          {t("common.cancel")}
        </button>
        <button type="submit" disabled={!canStart(form) || start.isPending}>
          {start.isPending ? t("backups.starting") : t("backups.start")}
        </button>
      </div>
    </form>
  );
}

/**
 * The progress events of an execution, as `live.tsx` puts them in the
 * query cache. The query never fetches: it only lets this component
 * re-render when an event lands.
 */
function useLiveProgress(id: string): Progress | undefined {
  const q = useQuery<Progress | null>({ queryKey: progressKey(id), queryFn: () => null, enabled: false });
  return q.data ?? undefined;
}

const PHASES: Record<string, MessageKey> = {
  stream: "backups.phase.stream",
  spool: "backups.phase.spool",
  load: "backups.phase.load",
};

/** The accepted restore: status, progress, outcome, a way to the execution's page. */
function RestoreRun({ id, onClose }: { id: string; onClose: () => void }) {
  const t = useT();
  const when = useDateTime();
  const execution = useQuery({
    queryKey: ["execution", id],
    queryFn: () => ok(api.GET("/api/executions/{id}", { params: { path: { id } } })),
    refetchInterval: (q) => (isFinished(q.state.data?.status) ? false : POLL_MS),
  });
  const live = useLiveProgress(id);
  const e = execution.data;
  const finished = isFinished(e?.status);
  const progress = finished ? undefined : (live ?? e?.progress ?? undefined);
  const value = progressValue(e?.status, progress);
  const verification = e?.operation === "verification";

  return (
    <div className="restore-run">
      {execution.isPending && <Loading label={t("backups.waiting")} />}
      {execution.error && !e && <ErrorNote error={execution.error} onRetry={() => execution.refetch()} />}
      {e && (
        <>
          <dl className="facts" aria-live="polite">
            <dt>{t("backups.runStatus")}</dt>
            <dd>
              <Status value={e.status} />
            </dd>
            <dt>{t("backups.runOperation")}</dt>
            <dd>{verification ? t("backups.op.verification") : t("backups.op.restore")}</dd>
            {e.datasource_name && (
              <>
                <dt>{t("backups.runTarget")}</dt>
                <dd>{e.datasource_name}</dd>
              </>
            )}
            <dt>{t("backups.runStarted")}</dt>
            <dd>{e.started_at ? when(e.started_at) : t("backups.notStarted")}</dd>
          </dl>
          <progress aria-label={t("backups.progress")} max={100} value={value} />
          {progress && (
            <p className="progress-line">
              <span>
                {progress.total_bytes
                  ? t("backups.bytesOf", { bytes: bytes(progress.bytes), total: bytes(progress.total_bytes) })
                  : bytes(progress.bytes)}
              </span>
              {value !== undefined && <span>{decimal(value, 1)} %</span>}
              {progress.bytes_per_second !== undefined && <span>{rate(progress.bytes_per_second)}</span>}
              {typeof progress.eta_seconds === "number" && <span>{t("backups.eta", { time: duration(progress.eta_seconds) })}</span>}
              {progress.phase && PHASES[progress.phase] && <span>{t(PHASES[progress.phase])}</span>}
            </p>
          )}
          {e.status === "completed" && (
            <p className="success">{verification ? t("backups.verificationPassed") : t("backups.restoreDone")}</p>
          )}
          {e.status === "failed" && (
            <div className="error-note" role="alert">
              <strong>{verification ? t("backups.verificationFailed") : t("backups.restoreFailed")}</strong>
              {e.error_message && <span>{e.error_message}</span>}
            </div>
          )}
          {e.status === "cancelled" && <p className="note">{t("backups.restoreCancelled")}</p>}
        </>
      )}
      <div className="actions end">
        <Link to={`/executions/${id}`}>{t("backups.openExecution")}</Link>
        <button type="button" onClick={onClose}>
          {t("common.close")}
        </button>
      </div>
    </div>
  );
}
