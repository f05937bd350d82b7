/**
 * `/executions`: every backup, restore, verification and copy, newest
 * first, filtered by job, status and operation. The filters and the page
 * live in the address, so a filtered list can be linked to and survives a
 * reload. Live events refresh the list; running rows show their progress.
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { api, ok } from "../../api/client";
import { SelectField } from "../../components/Field";
import { Status } from "../../components/Status";
import { Empty, QueryState } from "../../components/State";
import { Pager, Table, type Column } from "../../components/Table";
import { useT } from "../../i18n";
import { bytes, dateTime, duration } from "../../lib/format";
import { useJobChoices, useLocale } from "../jobs/queries";
import { OPERATIONS, STATUSES, summarize, type Execution, type ExecutionStatus, type Operation } from "./execution";
import { OPERATION_LABELS, STATUS_LABELS, useLiveProgress } from "./shared";

const PAGE_SIZE = 50;

type Filters = { job?: string; status?: ExecutionStatus; operation?: Operation; page: number };

/** The filters as the address holds them; values the API would refuse are dropped. */
function readFilters(params: URLSearchParams): Filters {
  const status = STATUSES.find((s) => s === params.get("status"));
  const operation = OPERATIONS.find((o) => o === params.get("operation"));
  const page = Math.max(1, Number.parseInt(params.get("page") ?? "1", 10) || 1);
  return { job: params.get("job") || undefined, status, operation, page };
}

export function ExecutionsPage() {
  const t = useT();
  const [params, setParams] = useSearchParams();
  const filters = readFilters(params);
  const executions = useQuery({
    queryKey: ["executions", "list", filters],
    queryFn: () =>
      ok(
        api.GET("/api/executions", {
          params: { query: { job_id: filters.job, status: filters.status, operation: filters.operation, page: filters.page, limit: PAGE_SIZE } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  /** A new filter starts again on the first page. */
  const setFilter = (name: "job" | "status" | "operation", value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    next.delete("page");
    setParams(next, { replace: true });
  };
  const setPage = (page: number) => {
    const next = new URLSearchParams(params);
    next.set("page", String(page));
    setParams(next);
  };

  return (
    <>
      <div className="page-head">
        <h1>{t("executions.title")}</h1>
      </div>
      <ExecutionFilters filters={filters} onChange={setFilter} />
      <QueryState query={executions}>
        {(data) => (
          <>
            <ExecutionsTable rows={data.data} />
            <Pager pagination={data.pagination} onPage={setPage} />
          </>
        )}
      </QueryState>
    </>
  );
}

function ExecutionFilters({ filters, onChange }: { filters: Filters; onChange: (name: "job" | "status" | "operation", value: string) => void }) {
  const t = useT();
  const jobs = useJobChoices();
  const all = { value: "", label: t("executions.all") };
  return (
    <div className="filters">
      <SelectField
        label={t("executions.filter.job")}
        value={filters.job ?? ""}
        onChange={(v) => onChange("job", v)}
        options={[all, ...(jobs.data ?? []).map((j) => ({ value: j.id, label: j.name }))]}
      />
      <SelectField
        label={t("executions.filter.status")}
        value={filters.status ?? ""}
        onChange={(v) => onChange("status", v)}
        options={[all, ...STATUSES.map((s) => ({ value: s, label: t(STATUS_LABELS[s]) }))]}
      />
      <SelectField
        label={t("executions.filter.operation")}
        value={filters.operation ?? ""}
        onChange={(v) => onChange("operation", v)}
        options={[all, ...OPERATIONS.map((o) => ({ value: o, label: t(OPERATION_LABELS[o]) }))]}
      />
    </div>
  );
}

function ExecutionsTable({ rows }: { rows: readonly Execution[] }) {
  const t = useT();
  const locale = useLocale();
  const columns: Column<Execution>[] = [
    // The first link of a row: what a person clicks to open the run.
    { header: t("executions.col.job"), cell: (e) => <Link to={`/executions/${e.id}`}>{e.job_name ?? t(OPERATION_LABELS[e.operation])}</Link> },
    { header: t("executions.col.operation"), cell: (e) => t(OPERATION_LABELS[e.operation]) },
    {
      header: t("executions.col.status"),
      cell: (e) => (
        <>
          <Status value={e.status} />
          {e.status === "running" && <RowProgress id={e.id} />}
        </>
      ),
    },
    { header: t("executions.col.datasource"), cell: (e) => e.datasource_name ?? "—" },
    { header: t("executions.col.started"), cell: (e) => dateTime(e.started_at, undefined, locale) },
    { header: t("executions.col.duration"), cell: (e) => duration(e.duration_seconds), className: "num" },
    { header: t("executions.col.size"), cell: (e) => bytes(e.size_bytes), className: "num" },
  ];
  return <Table caption={t("executions.title")} columns={columns} rows={rows} rowKey={(e) => e.id} empty={<Empty>{t("executions.empty")}</Empty>} />;
}

/** A running row's percent (or bytes so far, when the total is unknown) from the live progress events. */
function RowProgress({ id }: { id: string }) {
  const progress = useLiveProgress(id);
  if (!progress) return null;
  const s = summarize(progress);
  return <span className="help row-progress"> {s.percent ?? s.done}</span>;
}
