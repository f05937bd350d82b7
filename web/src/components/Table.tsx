/** Lists are tables: a caption for their name, header cells, and pages for long lists. */
import type { ReactNode } from "react";
import { useT } from "../i18n";
import { QueryState } from "./State";

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

/** A paged list as the API answers it: the rows of one page and where that page is. */
export type Page<T> = { data: readonly T[]; pagination: Pagination };

/** A paged list's query: its page as a table with the pager below, once loaded (loading and error states before). */
export function PagedTable<T>({
  query,
  onPage,
  ...table
}: {
  query: { data: Page<T> | undefined; error: unknown; isPending: boolean; refetch: () => unknown };
  onPage: (page: number) => void;
  caption: string;
  columns: readonly Column<T>[];
  rowKey: (row: T) => string;
  empty?: ReactNode;
}) {
  return (
    <QueryState query={query}>
      {(page) => (
        <>
          <Table {...table} rows={page.data} />
          <Pager pagination={page.pagination} onPage={onPage} />
        </>
      )}
    </QueryState>
  );
}
