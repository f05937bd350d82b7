/**
 * The cluster: the queue this server uses and whether it takes work, and
 * every node serving this metadata database — which leads the scheduler,
 * which answered, when each last reported and what it runs
 * (GET /api/health, GET /api/system/nodes; docs/DEPLOYMENT.md).
 */
import { useQuery } from "@tanstack/react-query";
import { api, ok } from "../../api/client";
import type { components } from "../../api/schema";
import { QueryState } from "../../components/State";
import { Table, type Column } from "../../components/Table";
import { useT } from "../../i18n";
import { relative } from "../../lib/format";
import { nodeState } from "./nodes";

type NodeView = components["schemas"]["NodeView"];

export function Nodes() {
  const t = useT();
  const nodes = useQuery({
    queryKey: ["system", "nodes"],
    queryFn: () => ok(api.GET("/api/system/nodes")),
    refetchInterval: 5000,
  });
  const health = useQuery({
    queryKey: ["health"],
    queryFn: () => ok(api.GET("/api/health")),
    refetchInterval: 5000,
  });
  const columns: Column<NodeView>[] = [
    {
      header: t("settings.nodes.node"),
      cell: (n) => (
        <>
          {n.hostname} <code>{n.id}</code>
        </>
      ),
    },
    {
      header: t("settings.nodes.role"),
      cell: (n) =>
        [n.leader ? t("settings.nodes.leader") : t("settings.nodes.worker"), n.self ? t("settings.nodes.this") : ""]
          .filter(Boolean)
          .join(" · "),
    },
    { header: t("settings.nodes.state"), cell: (n) => t(`settings.nodes.state.${nodeState(n.last_seen_at)}`) },
    {
      header: t("settings.nodes.lastSeen"),
      // A report a few milliseconds "in the future" (clocks) reads as just now.
      cell: (n) => relative(t, n.last_seen_at, new Date(Math.max(Date.now(), Date.parse(n.last_seen_at) || 0))) ?? "—",
    },
    { header: t("settings.nodes.running"), cell: (n) => n.running },
  ];
  return (
    <section aria-labelledby="nodes-heading">
      <h2 id="nodes-heading">{t("settings.tab.nodes")}</h2>
      <QueryState query={health}>
        {(h) => (
          <p className={h.queue_status === "ok" ? "note" : "error"}>
            {h.queue_status === "ok"
              ? t("settings.nodes.queueUp", { backend: h.queue_backend })
              : t("settings.nodes.queueDown", { backend: h.queue_backend, error: h.queue_error ?? "" })}
          </p>
        )}
      </QueryState>
      <QueryState query={nodes}>
        {(page) => <Table caption={t("settings.tab.nodes")} columns={columns} rows={page.data} rowKey={(n) => n.id} />}
      </QueryState>
    </section>
  );
}
