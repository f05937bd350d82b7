/**
 * What a connection test or a recorded health check says, in words: the
 * server's own answer (latency, version, size) or its failure message.
 */
import type { Outcome } from "../../components/ActionStatus";
import type { Translate } from "../../i18n";
import { bytes } from "../../lib/format";
import type { ConnectionTest, HealthCheck } from "./api";

/** Engines report metadata as strings or numbers (`size_bytes`, `active_connections`). */
function metaNumber(metadata: Record<string, unknown>, key: string): number | undefined {
  const v = metadata[key];
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

export function describeTest(r: ConnectionTest, t: Translate): NonNullable<Outcome> {
  if (!r.success) {
    return { tone: "bad", text: t("datasources.testFailed", { status: r.status, ms: r.latency_ms, message: r.message || t("datasources.noMessage") }) };
  }
  const metadata = r.metadata as Record<string, unknown>;
  const size = metaNumber(metadata, "size_bytes");
  const connections = metaNumber(metadata, "active_connections");
  const parts = [t("datasources.connected", { ms: r.latency_ms })];
  if (r.version) parts.push(t("datasources.serverVersion", { version: r.version }));
  if (size !== undefined) parts.push(t("datasources.databaseSize", { size: bytes(size) }));
  if (connections !== undefined) parts.push(t("datasources.activeConnections", { n: connections }));
  return { tone: "good", text: parts.join(" ") };
}

export function describeCheck(c: HealthCheck, t: Translate): NonNullable<Outcome> {
  if (c.status === "ok") return { tone: "good", text: t("datasources.checkRecorded", { status: c.status, ms: c.latency_ms ?? "—" }) };
  return { tone: "bad", text: t("datasources.checkRecordedFailed", { status: c.status, message: c.error_message || t("datasources.noMessage") }) };
}
