/** A status as text with a colour; the text carries the meaning (colour-blind and screen-reader safe). */
const TONE: Record<string, string> = {
  completed: "good",
  healthy: "good",
  succeeded: "good",
  ok: "good",
  sent: "good",
  running: "busy",
  queued: "busy",
  pending: "busy",
  warning: "warn",
  degraded: "warn",
  unknown: "muted",
  cancelled: "muted",
  disabled: "muted",
  failed: "bad",
  critical: "bad",
  timeout: "bad",
  auth_failed: "bad",
  error: "bad",
  unreachable: "bad",
  offline: "bad",
  denied: "bad",
};

export function Status({ value }: { value: string | null | undefined }) {
  const v = value ?? "unknown";
  return <span className={`status tone-${TONE[v] ?? "muted"}`}>{v}</span>;
}
