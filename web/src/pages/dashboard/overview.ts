/**
 * The dashboard's arithmetic, apart from React so it can be tested: the
 * monitor's samples as chart series, storages' free space, datasources
 * per status and "in 3 h" / "5 min ago".
 */
import type { Schemas } from "../../api/client";

export type Sample = Schemas["Sample"];
export type StorageReport = Schemas["StorageHealthReport"];

/** Bytes in the server's "GB" (it divides by 10^9: dg-app workers/health.rs). */
const GB = 1e9;


export type PerformanceSeries = {
  /** Unix seconds, oldest first (what TimeChart takes). */
  times: number[];
  /** Machine CPU, percent of all CPUs. */
  cpu: (number | null)[];
  /** This process's CPU, also as a percent of all CPUs, so both lines share one scale. */
  processCpu: (number | null)[];
  memoryUsed: (number | null)[];
  processRss: (number | null)[];
  /** The 1-minute load average. */
  load1: (number | null)[];
};

const num = (v: number | null | undefined): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/**
 * The kept samples as series. The monitor reports the process's CPU with
 * 100 = one CPU and the machine's as a share of all CPUs; dividing by the
 * CPU count puts both on the machine's scale. Samples without a readable
 * time are dropped (a chart needs an x).
 */
export function performanceSeries(history: readonly Sample[], cpus: number): PerformanceSeries {
  const out: PerformanceSeries = { times: [], cpu: [], processCpu: [], memoryUsed: [], processRss: [], load1: [] };
  const perCpu = cpus > 0 ? cpus : 1;
  for (const s of history) {
    const at = Date.parse(s.timestamp);
    if (Number.isNaN(at)) continue;
    out.times.push(Math.round(at / 1000));
    out.cpu.push(num(s.cpu_percent));
    const p = num(s.process_cpu_percent);
    out.processCpu.push(p === null ? null : p / perCpu);
    out.memoryUsed.push(num(s.memory_used_bytes));
    out.processRss.push(num(s.process_rss_bytes));
    out.load1.push(num(s.load_average?.[0]));
  }
  return out;
}

/** Whether a series has anything to draw (platforms that cannot give a figure report null). */
export function hasValues(values: readonly (number | null)[]): boolean {
  return values.some((v) => v !== null);
}

export type StorageRow = {
  id: string;
  name: string;
  type: string;
  status: string;
  /** Free space in bytes, when the storage can tell. */
  freeBytes?: number;
  checkedAt?: string;
  latencyMs?: number;
  error?: string;
};

/**
 * One row per storage: its status, free space and newest check (the
 * history is newest first). Free space comes from the newest check that
 * measured it, else from the storage's own row.
 */
export function storageRows(reports: readonly StorageReport[]): StorageRow[] {
  return reports
    .map(({ storage, history }) => {
      const last = history[0];
      const gb = history.find((h) => typeof h.available_space_gb === "number")?.available_space_gb ?? storage.available_space_gb;
      return {
        id: storage.id,
        name: storage.name,
        type: storage.type,
        status: storage.status,
        freeBytes: typeof gb === "number" ? Math.round(gb * GB) : undefined,
        checkedAt: last?.checked_at ?? storage.last_health_check_at ?? undefined,
        latencyMs: last?.latency_ms ?? undefined,
        error: last && last.status !== "ok" ? (last.error_message ?? undefined) : undefined,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Datasource statuses, most worrying first, leaving out those no datasource has. */
const STATUS_ORDER = ["critical", "warning", "unknown", "healthy"];

export function statusCounts(byStatus: Record<string, number>): [string, number][] {
  const rank = (s: string) => {
    const i = STATUS_ORDER.indexOf(s);
    return i < 0 ? STATUS_ORDER.length : i;
  };
  return Object.entries(byStatus)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}
