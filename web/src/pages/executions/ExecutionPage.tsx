/**
 * `/executions/:id`: one run. What it did (facts, per-storage copies,
 * per-database results), how far it is while it runs (live progress), its
 * log, and what one can do with it: download, retry the upload, cancel,
 * delete. Live events refresh it; while it is not over it is also asked
 * again every 2 s, in case an event was missed.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, download, ok } from "../../api/client";
import { useCan } from "../../auth";
import { ConfirmAction } from "../../components/ConfirmAction";
import { Status } from "../../components/Status";
import { ErrorNote, QueryState } from "../../components/State";
import { Table } from "../../components/Table";
import { useT } from "../../i18n";
import { bytes, dateTime, duration } from "../../lib/format";
import { jobKeys, nameOf, useLocale, useStorageChoices } from "../jobs/queries";
import { canRetryUpload, copyOf, databasesOf, isFinal, type DatabaseResult, type ExecutionDetail } from "./execution";
import { ExecutionLogs } from "./ExecutionLogs";
import { ExecutionProgress } from "./ExecutionProgress";
import { executionKey, OPERATION_LABELS } from "./shared";

export function ExecutionPage() {
  const { id = "" } = useParams();
  const execution = useQuery({
    queryKey: executionKey(id),
    queryFn: () => ok(api.GET("/api/executions/{id}", { params: { path: { id } } })),
    refetchInterval: (query) => (query.state.data && isFinal(query.state.data.status) ? false : 2000),
  });
  return <QueryState query={execution}>{(data) => <ExecutionView execution={data} />}</QueryState>;
}

/** The job, or, without one, what was worked on. */
function useSubject(e: ExecutionDetail): string {
  const t = useT();
  return e.job_name ?? e.datasource_name ?? t("executions.noJob");
}

/** "Chinook nightly — backup": the job (or, without one, what was worked on) and the operation. */
function useTitle(e: ExecutionDetail): string {
  const t = useT();
  return `${useSubject(e)} — ${t(OPERATION_LABELS[e.operation])}`;
}

function ExecutionView({ execution }: { execution: ExecutionDetail }) {
  const t = useT();
  const title = useTitle(execution);
  const running = !isFinal(execution.status);
  useSourceRefresh(execution, running);
  return (
    <div className="execution-page">
      <div className="page-head">
        <h1>{title}</h1>
        <Status value={execution.status} />
      </div>
      <ExecutionActions execution={execution} title={title} />
      {execution.cancel_requested_at && running && <p className="note">{t("executions.cancelRequested")}</p>}
      {execution.status === "queued" && <p className="note">{t("executions.waiting")}</p>}
      {execution.status === "running" && <ExecutionProgress execution={execution} />}
      <Facts execution={execution} />
      <Databases execution={execution} />
      <ExecutionLogs id={execution.id} active={running} />
    </div>
  );
}

/**
 * A copy or restore that ends changes the backup it read (a copy adds
 * storages to it; a restore is listed with it), and no event names that
 * backup: refresh it so its page is not stale when opened from here.
 */
function useSourceRefresh(execution: ExecutionDetail, running: boolean) {
  const client = useQueryClient();
  const source = execution.source_execution_id;
  useEffect(() => {
    if (source && !running) client.invalidateQueries({ queryKey: executionKey(source) });
  }, [client, source, running]);
}

function Facts({ execution: e }: { execution: ExecutionDetail }) {
  const t = useT();
  const locale = useLocale();
  return (
    <div className="panel">
      <h2>{t("executions.details")}</h2>
      <dl className="facts">
        <dt>{t("executions.fact.datasource")}</dt>
        <dd>{e.datasource_name ?? "—"}</dd>
        <dt>{t("executions.fact.storages")}</dt>
        <dd>
          <Storages execution={e} />
        </dd>
        <dt>{t("executions.fact.trigger")}</dt>
        <dd>{e.trigger_type === "manual" ? t("executions.trigger.manual") : t("executions.trigger.scheduled")}</dd>
        {e.source_execution_id && (
          <>
            <dt>{t("executions.fact.source")}</dt>
            <dd>
              <Link to={`/executions/${e.source_execution_id}`}>{t("executions.viewSource")}</Link>
            </dd>
          </>
        )}
        <dt>{t("executions.fact.queued")}</dt>
        <dd>{dateTime(e.created_at, undefined, locale)}</dd>
        <dt>{t("executions.fact.started")}</dt>
        <dd>{dateTime(e.started_at, undefined, locale)}</dd>
        <dt>{t("executions.fact.finished")}</dt>
        <dd>{dateTime(e.finished_at, undefined, locale)}</dd>
        <dt>{t("executions.fact.duration")}</dt>
        <dd>{duration(e.duration_seconds)}</dd>
        <dt>{t("executions.fact.size")}</dt>
        <dd>{bytes(e.size_bytes)}</dd>
        <dt>{t("executions.fact.compressedSize")}</dt>
        <dd>{bytes(e.compressed_size_bytes)}</dd>
        <dt>{t("executions.fact.checksum")}</dt>
        <dd>{e.checksum ? <code>{e.checksum}</code> : "—"}</dd>
        {e.restored_at && (
          <>
            <dt>{t("executions.fact.restored")}</dt>
            <dd>{dateTime(e.restored_at, undefined, locale)}</dd>
          </>
        )}
        {e.error_message && (
          <>
            <dt>{t("executions.fact.error")}</dt>
            <dd className="field-error">{e.error_message}</dd>
          </>
        )}
      </dl>
    </div>
  );
}

/** Each storage the backup went to, by name, with how its copy stands (for a copy: what it did per storage). */
function Storages({ execution: e }: { execution: ExecutionDetail }) {
  const t = useT();
  const storages = useStorageChoices();
  const copy = copyOf(e.metadata);
  if (copy.actions.length > 0) {
    return (
      <ul className="plain">
        {copy.source && <li>{t("executions.copiedFrom", { name: copy.source })}</li>}
        {copy.actions.map((a) => (
          <li key={a.storageId || a.storage}>
            {a.storage} <Status value={a.action} />
            {a.message && <span className="field-error"> {a.message}</span>}
          </li>
        ))}
      </ul>
    );
  }
  if (e.storages.length === 0) return <>{e.storage_name ?? "—"}</>;
  return (
    <ul className="plain">
      {e.storages.map((s) => (
        <li key={s.storage_location_id}>
          {nameOf(storages.data, s.storage_location_id) ?? (s.storage_location_id === e.storage_location_id ? e.storage_name : null) ?? "—"} <Status value={s.status} />
          {s.error_message && <span className="field-error"> {s.error_message}</span>}
        </li>
      ))}
    </ul>
  );
}

/** A backup of several databases: how each one went, and its own download. */
function Databases({ execution }: { execution: ExecutionDetail }) {
  const t = useT();
  const can = useCan();
  const databases = databasesOf(execution.metadata);
  if (databases.length === 0) return null;
  const downloadable = execution.operation === "backup" && execution.status === "completed" && can("backups:download");
  return (
    <div className="panel">
      <h2>{t("executions.databases")}</h2>
      <Table<DatabaseResult>
        caption={t("executions.databases")}
        rows={databases}
        rowKey={(d) => d.name}
        columns={[
          { header: t("executions.col.database"), cell: (d) => d.name },
          { header: t("executions.col.status"), cell: (d) => <Status value={d.status} /> },
          { header: t("executions.col.size"), cell: (d) => bytes(d.size), className: "num" },
          {
            header: t("common.details"),
            cell: (d) =>
              d.error ??
              (downloadable && d.status === "completed" ? (
                <button type="button" className="secondary" onClick={() => download(`/api/executions/${execution.id}/download?database=${encodeURIComponent(d.name)}`)}>
                  {t("executions.downloadDatabase", { name: d.name })}
                </button>
              ) : null),
          },
        ]}
      />
    </div>
  );
}

function ExecutionActions({ execution: e, title }: { execution: ExecutionDetail; title: string }) {
  const t = useT();
  const can = useCan();
  const client = useQueryClient();
  const navigate = useNavigate();
  const subject = useSubject(e);
  const [confirmDelete, setConfirmDelete] = useState(false);
  // Cancelling throws the run's work away, so it is confirmed first.
  const [confirmCancel, setConfirmCancel] = useState(false);
  // The job's storages tell whether one was added since this backup (then a retry has work to do).
  const job = useQuery({
    queryKey: jobKeys.one(e.job_id ?? ""),
    queryFn: () => ok(api.GET("/api/backup-jobs/{id}", { params: { path: { id: e.job_id ?? "" } } })),
    // A job that was deleted has no name: asking for it would only answer 404.
    enabled: !!e.job_id && !!e.job_name && can("jobs:read") && e.operation === "backup" && e.status === "completed",
  });
  const refresh = () => {
    client.invalidateQueries({ queryKey: executionKey(e.id) });
    client.invalidateQueries({ queryKey: ["executions"] });
  };
  const retry = useMutation({
    mutationFn: () => ok(api.POST("/api/executions/{id}/retry-upload", { params: { path: { id: e.id } } })),
    onSettled: refresh,
  });
  const final = isFinal(e.status);
  // A backup of several databases is downloaded one database at a time (see Databases).
  const single = databasesOf(e.metadata).length === 0;
  const actions = {
    download: e.operation === "backup" && e.status === "completed" && single && can("backups:download"),
    retry: canRetryUpload(e, job.data?.storage_location_ids) && can("backups:run"),
    cancel: !final && !e.cancel_requested_at && can("executions:cancel"),
    remove: final && can("executions:delete"),
  };
  const failure = retry.error;
  return (
    <>
      {Object.values(actions).some(Boolean) && (
        <div className="actions execution-actions">
          {actions.download && (
            <button type="button" onClick={() => download(`/api/executions/${e.id}/download`)}>
              {t("executions.download")}
            </button>
          )}
          {actions.retry && (
            <button type="button" className="secondary" disabled={retry.isPending} onClick={() => retry.mutate()}>
              {t("executions.retryUpload")}
            </button>
          )}
          {actions.cancel && (
            <button type="button" className="secondary" onClick={() => setConfirmCancel(true)}>
              {t("executions.cancel")}
            </button>
          )}
          {actions.remove && (
            <button type="button" className="danger" onClick={() => setConfirmDelete(true)}>
              {t("common.delete")}
            </button>
          )}
        </div>
      )}
      {retry.data && (
        <p className="success" role="status">
          {t("executions.copyQueued")} <Link to={`/executions/${retry.data.execution_id}`}>{t("executions.viewCopy")}</Link>
        </p>
      )}
      {failure && <ErrorNote error={failure} />}
      <ConfirmAction
        // A run that ends (or is cancelled elsewhere) while the question is open closes it.
        item={confirmCancel && actions.cancel ? e : null}
        title={t("executions.cancelTitle", { operation: t(OPERATION_LABELS[e.operation]), name: subject })}
        body={<p>{t("executions.cancelBody")}</p>}
        confirmLabel={t("executions.cancelConfirm")}
        action={(x) => ok(api.POST("/api/executions/{id}/cancel", { params: { path: { id: x.id } } }))}
        onDone={refresh}
        onClose={() => setConfirmCancel(false)}
      />
      <ConfirmAction
        item={confirmDelete ? e : null}
        title={t("common.confirmDeleteTitle", { name: title })}
        body={<p>{e.operation === "backup" && e.status === "completed" ? t("executions.deleteBackupBody") : t("executions.deleteBody")}</p>}
        confirmLabel={t("common.delete")}
        action={(x) => ok(api.DELETE("/api/executions/{id}", { params: { path: { id: x.id } } }))}
        onDone={() => {
          client.invalidateQueries({ queryKey: ["executions"] });
          client.invalidateQueries({ queryKey: ["backups"] });
          navigate("/executions");
        }}
        onClose={() => setConfirmDelete(false)}
      />
    </>
  );
}
