/** Lists are tables: a caption for their name, header cells, and pages for long lists. */
import type { ReactNode } from "react";
import { useT } from "../i18n";

export type Column<T> = { header: string; cell: (row: T) => ReactNode; className?: string };

export function Table<T>({
  caption,
  columns,
  rows,
  rowKey,
  empty,
}: {
  caption: string;
  columns: readonly Column<T>[];
  rows: readonly T[];
  rowKey: (row: T) => string;
  empty?: ReactNode;
}) {
  if (rows.length === 0 && empty) return <>{empty}</>;
  return (
    <div className="table-wrap">
      <table>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.header} scope="col" className={c.className}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={rowKey(r)}>
              {columns.map((c) => (
                <td key={c.header} className={c.className}>
                  {c.cell(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export type Pagination = { page: number; total_pages: number; total: number };

export function Pager({ pagination, onPage }: { pagination: Pagination; onPage: (page: number) => void }) {
  const t = useT();
  if (pagination.total_pages <= 1) return null;
  return (
    <nav className="pager" aria-label={t("common.pageOf", { page: pagination.page, pages: pagination.total_pages })}>
      <button type="button" className="secondary" disabled={pagination.page <= 1} onClick={() => onPage(pagination.page - 1)}>
        {t("common.previous")}
      </button>
      <span>{t("common.pageOf", { page: pagination.page, pages: pagination.total_pages })}</span>
      <button type="button" className="secondary" disabled={pagination.page >= pagination.total_pages} onClick={() => onPage(pagination.page + 1)}>
        {t("common.next")}
      </button>
    </nav>
  );
}
