/** "Health history": the latency of the recorded checks over time, and the latest few as a table. */
import { useMemo } from "react";
import { TimeChart, type Series } from "../../components/Chart";
import { useWhen } from "../../components/dates";
import { Section } from "../../components/Section";
import { Status } from "../../components/Status";
import { Empty, QueryState } from "../../components/State";
import { Table, type Column } from "../../components/Table";
import { useT } from "../../i18n";
import { useHealthChecks, type HealthCheck } from "./api";

/** How many of the newest checks the table shows (the chart shows all that were fetched). */
const TABLE_ROWS = 10;

const ms = (v: number) => `${Math.round(v)} ms`;

export function HealthHistory({ id }: { id: string }) {
  const t = useT();
  const checks = useHealthChecks(id);
  return (
    <Section title={t("datasources.health")}>
      <QueryState query={checks}>{(list) => (list.length === 0 ? <Empty>{t("datasources.noChecks")}</Empty> : <History checks={list} />)}</QueryState>
    </Section>
  );
}

function History({ checks }: { checks: readonly HealthCheck[] }) {
  const t = useT();
  const when = useWhen();
  const label = t("datasources.latency");
  // The chart redraws when its arrays change identity, so they are built once per answer.
  const { times, series } = useMemo(() => {
    const oldestFirst = [...checks].reverse();
    const latency: Series = { label, color: "#1d4ed8", values: oldestFirst.map((c) => c.latency_ms ?? null) };
    return { times: oldestFirst.map((c) => Date.parse(c.checked_at) / 1000), series: [latency] };
  }, [checks, label]);
  const columns: Column<HealthCheck>[] = [
    { header: t("datasources.time"), cell: (c) => when(c.checked_at) },
    { header: t("datasources.status"), cell: (c) => <Status value={c.status} /> },
    { header: t("datasources.latency"), cell: (c) => (c.latency_ms === null || c.latency_ms === undefined ? "—" : c.latency_ms), className: "num" },
    { header: t("datasources.error"), cell: (c) => c.error_message ?? "" },
  ];
  return (
    <>
      <TimeChart title={t("datasources.healthChart")} times={times} series={series} format={ms} />
      <h3>{t("datasources.recentChecks")}</h3>
      <Table caption={t("datasources.recentChecks")} columns={columns} rows={checks.slice(0, TABLE_ROWS)} rowKey={(c) => c.id} />
    </>
  );
}
