/** The inbox's filters as the list's query (`GET /api/notifications`). */
import type { NotificationKind, Severity } from "./kinds";

export type ReadFilter = "" | "unread" | "read";

export type InboxFilter = {
  read: ReadFilter;
  severity: "" | Severity;
  type: "" | NotificationKind;
  page: number;
};

export const INBOX_PAGE_SIZE = 25;

export const NO_FILTER: InboxFilter = { read: "", severity: "", type: "", page: 1 };

export type InboxQuery = { read?: boolean; severity?: Severity; type?: NotificationKind; page: number; limit: number };

/** Only the filters chosen go out (an absent one means "any"). */
export function inboxQuery(f: InboxFilter): InboxQuery {
  const q: InboxQuery = { page: f.page, limit: INBOX_PAGE_SIZE };
  if (f.read !== "") q.read = f.read === "read";
  if (f.severity !== "") q.severity = f.severity;
  if (f.type !== "") q.type = f.type;
  return q;
}

/** A filter changed: back to the first page, whose rows it changes. */
export function withFilter(f: InboxFilter, change: Partial<Omit<InboxFilter, "page">>): InboxFilter {
  return { ...f, ...change, page: 1 };
}
