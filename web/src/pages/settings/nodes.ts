/**
 * What the cluster screen says about a node: reporting (it reports every
 * 5 s) or silent (stopped, killed or cut off), from its last report.
 */

/** Seconds without a report after which a node reads as silent. */
export const SILENT_AFTER_SECONDS = 30;

export type NodeState = "reporting" | "silent";

export function nodeState(lastSeenAt: string, now: Date = new Date()): NodeState {
  const at = Date.parse(lastSeenAt);
  if (Number.isNaN(at)) return "silent";
  return now.getTime() - at > SILENT_AFTER_SECONDS * 1000 ? "silent" : "reporting";
}
