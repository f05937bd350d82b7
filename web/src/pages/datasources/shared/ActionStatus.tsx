/**
 * The answer of the last action of a screen (a connection test, a health
 * check, a copy) in a polite live region. The region is always rendered,
 * empty at first, so screen readers announce the answer when it arrives.
 */
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
