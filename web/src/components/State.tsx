/** Loading, empty and error states, the same on every screen. */
import type { ReactNode } from "react";
import { ApiFailure } from "../api/errors";
import { useT } from "../i18n";

export function Loading({ label }: { label?: string }) {
  const t = useT();
  return (
    <p className="state" role="status" aria-live="polite">
      {label ?? t("common.loading")}
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state empty">{children}</p>;
}

/** The API's own message (and the field it names), never a stack or a type name. */
export function ErrorNote({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const t = useT();
  let text = error instanceof Error ? error.message : String(error);
  if (error instanceof ApiFailure && error.code === "network") text = t("common.unreachable");
  else if (error instanceof ApiFailure) {
    if (error.status === 403 && error.message) text = error.message;
    if (error.field && !text.startsWith(error.field + ": ")) text = `${error.field}: ${text}`;
  }
  return (
    <div className="error-note" role="alert">
      <strong>{t("common.errorTitle")}</strong>
      <span>{text}</span>
      {onRetry && (
        <button type="button" className="secondary" onClick={onRetry}>
          {t("common.retry")}
        </button>
      )}
    </div>
  );
}

/** Renders `children(data)` once a query has data, with its loading and error states before. */
export function QueryState<T>({
  query,
  children,
}: {
  query: { data: T | undefined; error: unknown; isPending: boolean; refetch: () => unknown };
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <Loading />;
  if (query.data === undefined) return <ErrorNote error={query.error} onRetry={() => query.refetch()} />;
  // A refresh that failed (the server restarting, say) keeps what was
  // known on screen, under a note that it may be out of date.
  return (
    <>
      {query.error ? <ErrorNote error={query.error} onRetry={() => query.refetch()} /> : null}
      {children(query.data)}
    </>
  );
}
