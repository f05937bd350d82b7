import type { ReactNode } from "react";
import { useT } from "../i18n";

/**
 * A screen's heading and, at its right, the screen's actions (when there
 * are any). A section of a tabbed screen has an `<h2>`, with the `id` its
 * section is labelled by.
 */
export function PageHead({ title, level = 1, id, children }: { title: string; level?: 1 | 2; id?: string; children?: ReactNode }) {
  const Heading = level === 1 ? "h1" : "h2";
  return (
    <div className="page-head">
      <Heading id={id}>{title}</Heading>
      {children ? <div className="actions">{children}</div> : null}
    </div>
  );
}

/** The head of one thing's screen: its name and, for a writer, the screen's own actions, then Edit and Delete. */
export function DetailHead({
  title,
  writer,
  onEdit,
  onDelete,
  children,
}: {
  title: string;
  writer: boolean;
  onEdit: () => void;
  onDelete: () => void;
  children?: ReactNode;
}) {
  const t = useT();
  return (
    <PageHead title={title}>
      {writer && (
        <>
          {children}
          <button type="button" className="secondary" onClick={onEdit}>
            {t("common.edit")}
          </button>
          <button type="button" className="danger" onClick={onDelete}>
            {t("common.delete")}
          </button>
        </>
      )}
    </PageHead>
  );
}
