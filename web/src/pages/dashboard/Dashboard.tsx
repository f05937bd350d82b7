/**
 * The home screen: how many of everything, how backups are going, what
 * ran and what runs next, the storages' free space and the machine's load.
 * Live events refresh it (keys under ["dashboard"]).
 *
 * The overview needs `executions:read` and the storages' table
 * `storages:read` (host/src/api/access.rs): a reader lacking one sees
 * the rest, and a note naming what is missing instead of a refusal.
 */
import { useQuery } from "@tanstack/react-query";
import { useId, useMemo, type ReactNode } from "react";
import { Link } from "react-router";
import { api, ok, type Schemas } from "../../api/client";
import { useCan } from "../../auth";
import { TimeChart, type Series } from "../../components/Chart";
import { useDateTime } from "../../components/dates";
import { Empty, QueryState } from "../../components/State";
import { Status } from "../../components/Status";
import { Table, type Column } from "../../components/Table";
import { useT, type MessageKey } from "../../i18n";
import { bytes, decimal, duration, percent, relative } from "../../lib/format";
import { hasValues, performanceSeries, statusCounts, storageRows, type StorageRow } from "./overview";

type Overview = Schemas["Overview"];
type ExecutionView = Schemas["ExecutionView"];
type NextRun = Schemas["NextRun"];

const OPERATIONS: Record<Schemas["Operation"], MessageKey> = {
  backup: "dashboard.op.backup",
  restore: "dashboard.op.restore",
  verification: "dashboard.op.verification",
  copy: "dashboard.op.copy",
};

// Chart formatters live outside the component: TimeChart redraws when they change.
const asPercent = (v: number) => `${decimal(v, 0)} %`;
const asBytes = (v: number) => bytes(v);
const asLoad = (v: number) => decimal(v, 2);

/** Line colours, from the palette of styles.css (AA contrast on white). */
const BLUE = "#1d4ed8";
const GREEN = "#166534";
const AMBER = "#854d0e";

export function Dashboard() {
  const t = useT();
  const can = useCan();
  return (
    <>
      <div className="page-head">
        <h1>{t("dashboard.title")}</h1>
      </div>
      {can("executions:read") ? (
        <OverviewSections />
      ) : (
        <>
          <p className="note">{t("dashboard.needsOverview", { permission: "executions:read" })}</p>
          <StorageUsage />
        </>
      )}
    </>
  );
}

/** Everything `GET /api/dashboard/overview` answers, with the storages' table among it. */
function OverviewSections() {
  const t = useT();
  const query = useQuery({
    queryKey: ["dashboard", "overview"],
    queryFn: () => ok(api.GET("/api/dashboard/overview")),
  });
  return (
    <QueryState query={query}>
      {(o) => (
        <>
          <Cards o={o} />
          <Section title={t("dashboard.recent")}>
            <RecentExecutions rows={o.last_executions} />
          </Section>
          <Section title={t("dashboard.nextRuns")}>
            <NextRuns rows={o.next_runs} />
          </Section>
          <StorageUsage />
          <Section title={t("dashboard.performance")}>
            <Performance o={o} />
          </Section>
        </>
      )}
    </QueryState>
  );
}

/** A titled part of the screen: an h2 that also names the region for screen readers. */
function Section({ title, children }: { title: string; children: ReactNode }) {
  const id = useId();
  return (
    <section aria-labelledby={id} className="dashboard-section">
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

function Card({ label, value, children }: { label: string; value: ReactNode; children?: ReactNode }) {
  return (
    <div className="card">
      <div className="label">{label}</div>
      <div className="value">{value}</div>
      {children && <div className="detail">{children}</div>}
    </div>
  );
}

function Cards({ o }: { o: Overview }) {
  const t = useT();
  const can = useCan();
  const totals = o.totals;
  const byStatus = statusCounts(o.datasources_by_status);
  return (
    <div className="cards">
      <Card label={t("dashboard.datasources")} value={o.datasources_total}>
        {byStatus.length > 0 && (
          <ul className="status-counts">
            {byStatus.map(([status, n]) => (
              <li key={status}>
                <Status value={status} /> {n}
              </li>
            ))}
          </ul>
        )}
      </Card>
      <Card label={t("dashboard.storages")} value={o.storage_locations_total} />
      <Card label={t("dashboard.jobs")} value={t("dashboard.jobsValue", { enabled: o.jobs_enabled, total: o.jobs_total })} />
      <Card label={t("dashboard.executionsNow")} value={totals.executions_running}>
        {t("dashboard.queued", { n: totals.executions_queued })}
      </Card>
      <Card label={t("dashboard.last24h")} value={totals.completed_last_24h}>
        {t("dashboard.failedCount", { n: totals.failed_last_24h })}
      </Card>
      <Card label={t("dashboard.allTime")} value={totals.backups_completed}>
        {t("dashboard.failedCount", { n: totals.backups_failed })}
      </Card>
      <Card label={t("dashboard.successRate24h")} value={percent(o.success_rate_24h)}>
        {o.success_rate_24h === null || o.success_rate_24h === undefined ? t("dashboard.noBackups24h") : undefined}
      </Card>
      <Card label={t("dashboard.successRateAll")} value={percent(o.success_rate_all_time)} />
      <Card label={t("dashboard.stored")} value={bytes(totals.stored_bytes)} />
      <Card label={t("dashboard.unread")} value={o.unread_notifications}>
        {can("notifications:read") && <Link to="/notifications">{t("dashboard.openNotifications")}</Link>}
      </Card>
    </div>
  );
}

function RecentExecutions({ rows }: { rows: readonly ExecutionView[] }) {
  const t = useT();
  const when = useDateTime();
  const columns: Column<ExecutionView>[] = [
    {
      header: t("dashboard.job"),
      cell: (e) => <Link to={`/executions/${encodeURIComponent(e.id)}`}>{e.job_name ?? e.datasource_name ?? t("dashboard.noJob")}</Link>,
    },
    { header: t("dashboard.operation"), cell: (e) => t(OPERATIONS[e.operation]) },
    { header: t("common.status"), cell: (e) => <Status value={e.status} /> },
    { header: t("dashboard.started"), cell: (e) => (e.started_at ? when(e.started_at) : t("dashboard.notStarted")) },
    { header: t("dashboard.duration"), cell: (e) => duration(e.duration_seconds), className: "num" },
  ];
  return (
    <Table
      caption={t("dashboard.recent")}
      columns={columns}
      rows={rows}
      rowKey={(e) => e.id}
      empty={<Empty>{t("dashboard.noExecutions")}</Empty>}
    />
  );
}

function NextRuns({ rows }: { rows: readonly NextRun[] }) {
  const t = useT();
  const when = useDateTime();
  const now = new Date();
  const columns: Column<NextRun>[] = [
    { header: t("dashboard.job"), cell: (r) => <Link to={`/jobs/${encodeURIComponent(r.job_id)}`}>{r.job_name}</Link> },
    { header: t("dashboard.when"), cell: (r) => when(r.next_execution_at) },
    {
      header: t("dashboard.fromNow"),
      cell: (r) => relative(t, r.next_execution_at, now) ?? "—",
    },
  ];
  return (
    <Table
      caption={t("dashboard.nextRuns")}
      columns={columns}
      rows={rows}
      rowKey={(r) => r.job_id}
      empty={<Empty>{t("dashboard.noNextRuns")}</Empty>}
    />
  );
}

/** Storages' state and free space (`GET /api/health/storage`), for those who may read storages. */
function StorageUsage() {
  const t = useT();
  const can = useCan();
  if (!can("storages:read")) return null;
  return (
    <Section title={t("dashboard.storageUsage")}>
      <StorageTable />
    </Section>
  );
}

function StorageTable() {
  const t = useT();
  const when = useDateTime();
  // Under ["dashboard"] so storage events refresh it with the rest of the screen.
  const query = useQuery({
    queryKey: ["dashboard", "storage-health"],
    queryFn: () => ok(api.GET("/api/health/storage")),
  });
  const columns: Column<StorageRow>[] = [
    { header: t("dashboard.storage"), cell: (s) => s.name },
    { header: t("common.type"), cell: (s) => s.type },
    { header: t("common.status"), cell: (s) => <Status value={s.status} /> },
    { header: t("dashboard.free"), cell: (s) => (s.freeBytes === undefined ? t("dashboard.unknownSpace") : bytes(s.freeBytes)), className: "num" },
    {
      header: t("dashboard.lastCheck"),
      cell: (s) => (
        <>
          {s.checkedAt ? when(s.checkedAt) : t("common.never")}
          {s.latencyMs !== undefined && <span className="help"> {t("dashboard.latency", { ms: s.latencyMs })}</span>}
          {s.error && <div className="field-error">{s.error}</div>}
        </>
      ),
    },
  ];
  return (
    <QueryState query={query}>
      {(page) => (
        <Table
          caption={t("dashboard.storageUsage")}
          columns={columns}
          rows={storageRows(page.data)}
          rowKey={(s) => s.id}
          empty={<Empty>{t("dashboard.noStorages")}</Empty>}
        />
      )}
    </QueryState>
  );
}

/** The system monitor: charts of the kept samples, the machine, the async runtime's thread pool. */
function Performance({ o }: { o: Overview }) {
  const t = useT();
  const { machine, history, current } = o.performance;
  const pool = o.thread_pool;
  const charts = useMemo(() => {
    const s = performanceSeries(history, machine.cpus);
    const cpu: Series[] = [
      { label: t("dashboard.machine"), values: s.cpu, color: BLUE },
      { label: t("dashboard.process"), values: s.processCpu, color: GREEN },
    ];
    const memory: Series[] = [
      { label: t("dashboard.memoryUsed"), values: s.memoryUsed, color: BLUE },
      { label: t("dashboard.process"), values: s.processRss, color: GREEN },
    ];
    const load: Series[] = [{ label: t("dashboard.load1"), values: s.load1, color: AMBER }];
    return {
      times: s.times,
      cpu: cpu.filter((x) => hasValues(x.values)),
      memory: memory.filter((x) => hasValues(x.values)),
      load: load.filter((x) => hasValues(x.values)),
    };
  }, [history, machine.cpus, t]);

  return (
    <>
      {charts.times.length === 0 ? (
        <Empty>{t("dashboard.noSamples")}</Empty>
      ) : (
        <div className="dashboard-charts">
          {charts.cpu.length > 0 && <TimeChart title={t("dashboard.cpuChart")} times={charts.times} series={charts.cpu} format={asPercent} />}
          {charts.memory.length > 0 && (
            <TimeChart title={t("dashboard.memoryChart")} times={charts.times} series={charts.memory} format={asBytes} />
          )}
          {charts.load.length > 0 && <TimeChart title={t("dashboard.loadChart")} times={charts.times} series={charts.load} format={asLoad} />}
        </div>
      )}
      <div className="grid dashboard-facts">
        <div className="panel">
          <h3>{t("dashboard.machineFacts")}</h3>
          <dl className="facts">
            <dt>{t("dashboard.hostname")}</dt>
            <dd>{machine.hostname}</dd>
            <dt>{t("dashboard.system")}</dt>
            <dd>
              {machine.os} ({machine.arch})
            </dd>
            <dt>{t("dashboard.cpus")}</dt>
            <dd>{machine.cpus}</dd>
            <dt>{t("dashboard.memoryTotal")}</dt>
            <dd>{bytes(machine.memory_total_bytes)}</dd>
            {current && (
              <>
                <dt>{t("dashboard.cpuNow")}</dt>
                <dd>{current.cpu_percent === null || current.cpu_percent === undefined ? "—" : asPercent(current.cpu_percent)}</dd>
                <dt>{t("dashboard.memoryNow")}</dt>
                <dd>
                  {current.memory_used_bytes === null || current.memory_used_bytes === undefined
                    ? "—"
                    : t("dashboard.memoryOf", { used: bytes(current.memory_used_bytes), total: bytes(current.memory_total_bytes ?? machine.memory_total_bytes) })}
                </dd>
                {current.load_average && current.load_average.length > 0 && (
                  <>
                    <dt>{t("dashboard.loadAverage")}</dt>
                    <dd>{current.load_average.map(asLoad).join(" · ")}</dd>
                  </>
                )}
                <dt>{t("dashboard.processMemory")}</dt>
                <dd>{bytes(current.process_rss_bytes)}</dd>
              </>
            )}
            <dt>{t("dashboard.processId")}</dt>
            <dd>{machine.process_id}</dd>
            <dt>{t("dashboard.sampling")}</dt>
            <dd>{t("dashboard.samplingValue", { every: duration(machine.interval_ms / 1000), kept: machine.history_size })}</dd>
          </dl>
        </div>
        <div className="panel">
          <h3>{t("dashboard.threadPool")}</h3>
          <dl className="facts">
            <dt>{t("dashboard.workers")}</dt>
            <dd>{pool.size}</dd>
            <dt>{t("dashboard.busy")}</dt>
            <dd>{pool.busy === null || pool.busy === undefined ? "—" : t("dashboard.busyValue", { busy: decimal(pool.busy, 1), size: pool.size })}</dd>
            <dt>{t("dashboard.aliveTasks")}</dt>
            <dd>{pool.alive_tasks}</dd>
            <dt>{t("dashboard.queuedTasks")}</dt>
            <dd>{pool.queued}</dd>
          </dl>
        </div>
      </div>
    </>
  );
}
