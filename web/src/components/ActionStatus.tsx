/**
 * The answer of the last action of a screen (a connection test, a health
 * check, a copy) in a polite live region. The region is always rendered,
 * empty at first, so screen readers announce the answer when it arrives.
 */
import { useMutation } from "@tanstack/react-query";

export type Outcome = { tone: "good" | "bad"; text: string } | null;

export function ActionStatus({ outcome }: { outcome: Outcome }) {
  const tone = outcome === null ? undefined : outcome.tone === "good" ? "success" : "error-note";
  return (
    <div role="status" aria-live="polite" className={tone}>
      {outcome?.text}
    </div>
  );
}

/** The message of a failed call, as an outcome. */
export function failureOutcome(error: unknown): Outcome {
  return { tone: "bad", text: error instanceof Error ? error.message : String(error) };
}

/**
 * A button that makes one call and reports it to an `ActionStatus`: the
 * last answer is cleared when the call starts, then the answer in words
 * (`describe`) or the failure's message. While the call runs the button
 * is disabled and says so (`pendingLabel`).
 */
export function ActionButton<T>({
  label,
  pendingLabel,
  secondary,
  call,
  onDone,
  describe,
  onOutcome,
}: {
  label: string;
  pendingLabel: string;
  secondary?: boolean;
  call: () => Promise<T>;
  /** What the answer changes in the cache, before it is described. */
  onDone?: (answer: T) => void;
  describe: (answer: T) => NonNullable<Outcome>;
  onOutcome: (o: Outcome) => void;
}) {
  const action = useMutation({
    mutationFn: call,
    onMutate: () => onOutcome(null),
    onSuccess: (answer) => {
      onDone?.(answer);
      onOutcome(describe(answer));
    },
    onError: (e) => onOutcome(failureOutcome(e)),
  });
  return (
    <button type="button" className={secondary ? "secondary" : undefined} disabled={action.isPending} onClick={() => action.mutate()}>
      {action.isPending ? pendingLabel : label}
    </button>
  );
}
