/**
 * `/jobs`: every backup job with its datasource, schedule and next run,
 * and what one does with a job from the list: run it now, pause or
 * resume it, delete it.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { api, ok, type Schemas } from "../../api/client";
import { useCan } from "../../auth";
import { ConfirmAction } from "../../components/ConfirmAction";
import { Status } from "../../components/Status";
import { Empty, ErrorNote, QueryState } from "../../components/State";
import { Pager, Table, type Column } from "../../components/Table";
import { useT } from "../../i18n";
import { dateTime } from "../../lib/format";
import { jobKeys, nameOf, shownZone, useDatasourceChoices, useLocale } from "./queries";

type Job = Schemas["JobView"];
const PAGE_SIZE = 50;

export function JobsPage() {
  const t = useT();
  const can = useCan();
  const navigate = useNavigate();
  const [page, setPage] = useState(1);
  const jobs = useQuery({
    queryKey: jobKeys.list(page),
    queryFn: () => ok(api.GET("/api/backup-jobs", { params: { query: { page, limit: PAGE_SIZE } } })),
  });
  const [queued, setQueued] = useState<{ job: string; executionId: string } | null>(null);
  const [runError, setRunError] = useState<unknown>(null);
  const [deleting, setDeleting] = useState<Job | null>(null);

  return (
    <>
      <div className="page-head">
        <h1>{t("jobs.title")}</h1>
        {can("jobs:write") && (
          <div className="actions">
            <button type="button" onClick={() => navigate("/jobs/new")}>
              {t("jobs.add")}
            </button>
          </div>
        )}
      </div>
      {queued && (
        <p className="success" role="status">
          {t("jobs.queued", { name: queued.job })} <Link to={`/executions/${queued.executionId}`}>{t("jobs.viewExecution")}</Link>
        </p>
      )}
      {runError !== null && <ErrorNote error={runError} />}
      <QueryState query={jobs}>
        {(data) => (
          <>
            <JobsTable
              jobs={data.data}
              onQueued={(job, executionId) => {
                setRunError(null);
                setQueued({ job: job.name, executionId });
              }}
              onRunFailed={(e) => {
                setQueued(null);
                setRunError(e);
              }}
              onDelete={setDeleting}
            />
            <Pager pagination={data.pagination} onPage={setPage} />
          </>
        )}
      </QueryState>
      <DeleteJob job={deleting} onClose={() => setDeleting(null)} />
    </>
  );
}

function JobsTable({
  jobs,
  onQueued,
  onRunFailed,
  onDelete,
}: {
  jobs: readonly Job[];
  onQueued: (job: Job, executionId: string) => void;
  onRunFailed: (error: unknown) => void;
  onDelete: (job: Job) => void;
}) {
  const t = useT();
  const can = useCan();
  const locale = useLocale();
  const datasources = useDatasourceChoices();
  const columns: Column<Job>[] = [
    { header: t("jobs.col.name"), cell: (j) => <Link to={`/jobs/${j.id}`}>{j.name}</Link> },
    { header: t("jobs.col.datasource"), cell: (j) => nameOf(datasources.data, j.datasource_id) ?? "—" },
    {
      header: t("jobs.col.schedule"),
      cell: (j) => (
        <>
          <code>{j.schedule_cron}</code> {j.schedule_timezone}
        </>
      ),
    },
    { header: t("jobs.col.nextRun"), cell: (j) => dateTime(j.next_execution_at, shownZone(j.schedule_timezone), locale) },
    { header: t("jobs.col.enabled"), cell: (j) => <EnabledCell job={j} /> },
  ];
  if (can("executions:read")) columns.push({ header: t("jobs.col.lastBackup"), cell: (j) => <LastBackup job={j} /> });
  if (can("backups:run") || can("jobs:write")) {
    columns.push({
      header: t("common.actions"),
      cell: (j) => <JobActions job={j} onQueued={onQueued} onRunFailed={onRunFailed} onDelete={onDelete} />,
    });
  }
  return <Table caption={t("jobs.title")} columns={columns} rows={jobs} rowKey={(j) => j.id} empty={<Empty>{t("jobs.empty")}</Empty>} />;
}

/** "Enabled"/"Disabled" as text, and the switch beside it for those who may change jobs. */
function EnabledCell({ job }: { job: Job }) {
  const t = useT();
  const can = useCan();
  const client = useQueryClient();
  const toggle = useMutation({
    mutationFn: () => ok(api.PUT("/api/backup-jobs/{id}", { params: { path: { id: job.id } }, body: { enabled: !job.enabled } })),
    onSettled: () => client.invalidateQueries({ queryKey: jobKeys.all }),
  });
  return (
    <div className="actions">
      <Status value={job.enabled ? "enabled" : "disabled"} label={job.enabled ? t("jobs.enabled") : t("jobs.disabled")} />
      {can("jobs:write") && (
        <button type="button" className="secondary" disabled={toggle.isPending} onClick={() => toggle.mutate()}>
          {job.enabled ? t("jobs.disable") : t("jobs.enable")}
        </button>
      )}
      {toggle.error && <ErrorNote error={toggle.error} />}
    </div>
  );
}

/** The status of the job's latest backup (its executions, newest first). */
function LastBackup({ job }: { job: Job }) {
  const t = useT();
  const locale = useLocale();
  const last = useQuery({
    queryKey: jobKeys.lastBackup(job.id),
    queryFn: () => ok(api.GET("/api/backup-jobs/{id}/executions", { params: { path: { id: job.id }, query: { limit: 1 } } })),
    select: (page) => page.data[0] ?? null,
  });
  if (last.isPending) return <span className="help">{t("common.loading")}</span>;
  if (!last.data) return <span className="help">{t("common.never")}</span>;
  return (
    <>
      <Link to={`/executions/${last.data.id}`}>
        <Status value={last.data.status} />
      </Link>{" "}
      <span className="help">{dateTime(last.data.started_at ?? last.data.created_at, undefined, locale)}</span>
    </>
  );
}

function JobActions({
  job,
  onQueued,
  onRunFailed,
  onDelete,
}: {
  job: Job;
  onQueued: (job: Job, executionId: string) => void;
  onRunFailed: (error: unknown) => void;
  onDelete: (job: Job) => void;
}) {
  const t = useT();
  const can = useCan();
  const client = useQueryClient();
  const run = useMutation({
    mutationFn: () => ok(api.POST("/api/backup-jobs/{id}/run", { params: { path: { id: job.id } } })),
    onSuccess: (accepted) => {
      onQueued(job, accepted.execution_id);
      client.invalidateQueries({ queryKey: ["executions"] });
      client.invalidateQueries({ queryKey: jobKeys.lastBackup(job.id) });
    },
    onError: onRunFailed,
  });
  return (
    <div className="actions">
      {can("backups:run") && (
        <button type="button" disabled={run.isPending} onClick={() => run.mutate()}>
          {t("jobs.runNow")}
        </button>
      )}
      {can("jobs:write") && (
        <button type="button" className="secondary" onClick={() => onDelete(job)}>
          {t("common.delete")}
        </button>
      )}
    </div>
  );
}

function DeleteJob({ job, onClose }: { job: Job | null; onClose: () => void }) {
  const t = useT();
  const client = useQueryClient();
  return (
    <ConfirmAction
      item={job}
      title={t("common.confirmDeleteTitle", { name: job?.name ?? "" })}
      body={<p>{t("jobs.deleteBody")}</p>}
      confirmLabel={t("common.delete")}
      action={(j) => ok(api.DELETE("/api/backup-jobs/{id}", { params: { path: { id: j.id } } }))}
      onDone={() => client.invalidateQueries({ queryKey: jobKeys.all })}
      onClose={onClose}
    />
  );
}
