/** A status as text with a colour; the text carries the meaning (colour-blind and screen-reader safe). */
import { isMessageKey, useT } from "../i18n";
type Tone = "good" | "busy" | "warn" | "bad" | "muted";

const TONE: Record<string, Tone> = {
  completed: "good",
  healthy: "good",
  succeeded: "good",
  ok: "good",
  sent: "good",
  delivered: "good",
  enabled: "good",
  current: "good",
  running: "busy",
  queued: "busy",
  pending: "busy",
  sending: "busy",
  built_in: "busy",
  warning: "warn",
  degraded: "warn",
  // An audited refusal: the rules held, which is worth a look but is no failure.
  denied: "warn",
  unknown: "muted",
  cancelled: "muted",
  disabled: "muted",
  suppressed: "muted",
  info: "muted",
  custom: "muted",
  failed: "bad",
  critical: "bad",
  timeout: "bad",
  auth_failed: "bad",
  error: "bad",
  unreachable: "bad",
  offline: "bad",
};

/**
 * `value` picks the colour; `label`, when given, is the text shown instead
 * of the raw value (a translated word for an API identifier).
 */
export function Status({ value, label }: { value: string | null | undefined; label?: string }) {
  const t = useT();
  const v = value ?? "unknown";
  // Known statuses read in the reader's language; others as the API says them.
  const key = `status.${v}`;
  const text = label ?? (isMessageKey(key) ? t(key) : v);
  return <span className={`status tone-${TONE[v] ?? "muted"}`}>{text}</span>;
}
