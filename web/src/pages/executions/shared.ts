/** Pieces both executions screens use: live progress from the cache, and the names of operations and statuses. */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import type { MessageKey } from "../../i18n";
import { progressKey, type Progress } from "../../live";
import type { ExecutionStatus, Operation } from "./execution";

export const executionKey = (id: string) => ["execution", id] as const;
export const logsKey = (id: string) => ["execution", id, "logs"] as const;

export const OPERATION_LABELS: Record<Operation, MessageKey> = {
  backup: "executions.op.backup",
  restore: "executions.op.restore",
  verification: "executions.op.verification",
  copy: "executions.op.copy",
};

export const STATUS_LABELS: Record<ExecutionStatus, MessageKey> = {
  queued: "executions.status.queued",
  running: "executions.status.running",
  completed: "executions.status.completed",
  failed: "executions.status.failed",
  cancelled: "executions.status.cancelled",
};

/**
 * The last `execution_progress` event of `id`, which `src/live.tsx` puts
 * in the cache. Nothing is fetched: the query function hands back what
 * the cache holds, so a resync (every query invalidated) keeps it.
 */
export function useLiveProgress(id: string): Progress | null {
  const client = useQueryClient();
  const query = useQuery<Progress | null>({
    queryKey: progressKey(id),
    queryFn: () => client.getQueryData<Progress>(progressKey(id)) ?? null,
    staleTime: Infinity,
  });
  return query.data ?? null;
}
