/**
 * What the executions screens work out from what the API and the live
 * events say: whether a run is over, which progress report is the newest,
 * how progress reads, whether an upload can be retried, and log lines.
 * Pure, so it is tested without a browser.
 */
import type { Schemas } from "../../api/client";
import { bytes, duration, percent, rate } from "../../lib/format";
import type { Progress } from "../../live";

export type Execution = Schemas["ExecutionView"];
export type ExecutionDetail = Schemas["ExecutionDetail"];
export type ExecutionStatus = Schemas["ExecutionStatus"];
export type Operation = Schemas["Operation"];
export type LogLine = Schemas["ExecutionLog"];

export const STATUSES: readonly ExecutionStatus[] = ["queued", "running", "completed", "failed", "cancelled"];
export const OPERATIONS: readonly Operation[] = ["backup", "restore", "verification", "copy"];

/** A progress report, from an `execution_progress` event or the detail's `progress` field. */
export type ProgressReport = Omit<Progress, "execution_id" | "phase"> & { phase?: string | null };

/** Completed, failed and cancelled runs change no more. */
export function isFinal(status: ExecutionStatus | undefined): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}

/**
 * The newer of two reports: the live event and the detail's own field
 * race each other, and the one further into the run wins.
 */
export function latestProgress(a: ProgressReport | null | undefined, b: ProgressReport | null | undefined): ProgressReport | null {
  if (!a) return b ?? null;
  if (!b) return a;
  const at = (p: ProgressReport) => [p.elapsed_seconds ?? -1, p.bytes ?? -1];
  const [ea, ba] = at(a);
  const [eb, bb] = at(b);
  return ea > eb || (ea === eb && ba >= bb) ? a : b;
}

export type ProgressSummary = {
  /** 0–100 when the total is known, for `<progress value>`; null draws an indeterminate bar. */
  value: number | null;
  percent: string | null;
  /** "1.50 GiB" or "1.50 GiB of 3.00 GiB" (the "of" joined by the caller's language). */
  done: string;
  total: string | null;
  rate: string | null;
  eta: string | null;
};

export function summarize(p: ProgressReport): ProgressSummary {
  const value = typeof p.percent === "number" && Number.isFinite(p.percent) ? Math.min(100, Math.max(0, p.percent)) : null;
  const speed = p.bytes_per_second ?? p.average_bytes_per_second;
  return {
    value,
    percent: value === null ? null : percent(value / 100),
    done: bytes(p.bytes ?? 0),
    total: p.total_bytes ? bytes(p.total_bytes) : null,
    rate: speed === undefined || speed === null ? null : rate(speed),
    eta: typeof p.eta_seconds === "number" ? duration(p.eta_seconds) : null,
  };
}

/**
 * Whether "Retry upload" has something to do: a completed backup that a
 * storage of its job does not hold whole (a failed or missing copy, or a
 * storage added to the job since). Copies whose files went missing
 * without a record are found only by the server; the backups page shows
 * those.
 */
export function canRetryUpload(execution: ExecutionDetail, jobStorageIds?: readonly string[]): boolean {
  if (execution.operation !== "backup" || execution.status !== "completed" || !execution.backup_path) return false;
  if (execution.storages.some((s) => s.status !== "completed")) return true;
  const held = new Set(execution.storages.filter((s) => s.status === "completed").map((s) => s.storage_location_id));
  if (execution.storage_location_id) held.add(execution.storage_location_id);
  return (jobStorageIds ?? []).some((id) => !held.has(id));
}

/** Lines fetched after the last one added to those already shown (a line is added once). */
export function appendLines(shown: readonly LogLine[], fetched: readonly LogLine[]): LogLine[] {
  const last = shown.length > 0 ? shown[shown.length - 1].id : 0;
  const fresh = fetched.filter((l) => l.id > last);
  return fresh.length === 0 ? [...shown] : [...shown, ...fresh];
}

/** "03:00:12 INFO  message", the time in `timeZone` (the browser's when absent). */
export function logText(line: LogLine, locale?: string, timeZone?: string): string {
  const d = new Date(line.ts);
  const time = Number.isNaN(d.getTime())
    ? line.ts
    : new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZone }).format(d);
  return `${time} ${line.level.toUpperCase().padEnd(5)} ${line.message}`;
}

/** One database of a several-databases backup, as `metadata.databases` records it. */
export type DatabaseResult = { name: string; status: string; error?: string; size?: number };

export function databasesOf(metadata: unknown): DatabaseResult[] {
  const list = (metadata as { databases?: unknown } | null | undefined)?.databases;
  if (!Array.isArray(list)) return [];
  return list.flatMap((d): DatabaseResult[] => {
    if (!d || typeof d !== "object") return [];
    const r = d as Record<string, unknown>;
    if (typeof r.name !== "string") return [];
    return [
      {
        name: r.name,
        status: typeof r.status === "string" ? r.status : "unknown",
        error: typeof r.error === "string" ? r.error : undefined,
        size: typeof r.compressed_size_bytes === "number" ? r.compressed_size_bytes : undefined,
      },
    ];
  });
}

/** What a copy (retry upload) did for one storage, as `metadata.copy.actions` records it. */
export type CopyAction = { storageId: string; storage: string; action: string; message?: string };

/** A copy's per-storage outcome (`copied`, `present` or `failed`) and the storage it read from. */
export function copyOf(metadata: unknown): { source?: string; actions: CopyAction[] } {
  const copy = (metadata as { copy?: unknown } | null | undefined)?.copy;
  if (!copy || typeof copy !== "object") return { actions: [] };
  const c = copy as { source_storage?: unknown; actions?: unknown };
  const actions = Array.isArray(c.actions)
    ? c.actions.flatMap((a): CopyAction[] => {
        if (!a || typeof a !== "object") return [];
        const r = a as Record<string, unknown>;
        if (typeof r.action !== "string") return [];
        return [
          {
            storageId: typeof r.storage_location_id === "string" ? r.storage_location_id : "",
            storage: typeof r.storage_name === "string" ? r.storage_name : "—",
            action: r.action,
            message: typeof r.message === "string" ? r.message : undefined,
          },
        ];
      })
    : [];
  return { source: typeof c.source_storage === "string" ? c.source_storage : undefined, actions };
}
