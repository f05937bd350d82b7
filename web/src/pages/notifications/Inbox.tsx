/**
 * The inbox: what the server raised (backups failed, connections lost…),
 * newest first, filtered by read state, severity and kind. New ones
 * arrive through the live event stream (`["notifications"]` queries are
 * refreshed by it).
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, ok, type Schemas } from "../../api/client";
import { useDateTime } from "../../components/dates";
import { SelectField } from "../../components/Field";
import { PageHead } from "../../components/PageHead";
import { Empty, ErrorNote } from "../../components/State";
import { Status } from "../../components/Status";
import { PagedTable, type Column } from "../../components/Table";
import { useNames } from "../../components/useNames";
import { useT } from "../../i18n";
import { inboxQuery, NO_FILTER, withFilter, type InboxFilter, type ReadFilter } from "./inbox";
import { isOneOf, KINDS, SEVERITIES } from "./kinds";
import { entityLabel, kindLabel, severityLabel } from "./labels";
import { aboutName } from "./names";

type Notification = Schemas["NotificationPage"]["data"][number];

const READ_FILTERS: readonly ReadFilter[] = ["", "unread", "read"];

export function Inbox() {
  const t = useT();
  const when = useDateTime();
  const client = useQueryClient();
  const [filter, setFilter] = useState<InboxFilter>(NO_FILTER);
  const names = useNames("notifications", ["datasources", "storages", "jobs"]);
  const list = useQuery({
    queryKey: ["notifications", "inbox", filter],
    queryFn: () => ok(api.GET("/api/notifications", { params: { query: inboxQuery(filter) } })),
    placeholderData: keepPreviousData,
  });
  const refresh = () => {
    client.invalidateQueries({ queryKey: ["notifications"] });
    client.invalidateQueries({ queryKey: ["dashboard"] });
  };
  const markRead = useMutation({
    mutationFn: (id: string) => ok(api.POST("/api/notifications/{id}/read", { params: { path: { id } } })),
    onSettled: refresh,
  });
  const markAll = useMutation({
    mutationFn: () => ok(api.POST("/api/notifications/read-all")),
    onSettled: refresh,
  });

  const about = (n: Notification) => {
    if (!n.entity_type) return "—";
    const name = aboutName(n, names);
    return name ? `${entityLabel(t, n.entity_type)}: ${name}` : entityLabel(t, n.entity_type);
  };

  const columns: Column<Notification>[] = [
    { header: t("notifications.inbox.severity"), cell: (n) => <Status value={n.severity} label={severityLabel(t, n.severity)} /> },
    {
      header: t("notifications.inbox.notification"),
      cell: (n) => (
        <>
          <strong>{n.title}</strong>
          <br />
          <small className="help">{kindLabel(t, n.type)}</small>
        </>
      ),
    },
    { header: t("notifications.inbox.message"), cell: (n) => n.message },
    { header: t("notifications.inbox.about"), cell: about },
    { header: t("common.created"), cell: (n) => when(n.created_at) },
    {
      header: t("notifications.inbox.state"),
      cell: (n) => (n.read_at ? t("notifications.inbox.read") : <strong>{t("notifications.inbox.unread")}</strong>),
    },
    {
      header: t("common.actions"),
      cell: (n) =>
        n.read_at ? null : (
          <button type="button" className="secondary" disabled={markRead.isPending && markRead.variables === n.id} onClick={() => markRead.mutate(n.id)}>
            {t("notifications.inbox.markRead")}
          </button>
        ),
    },
  ];

  return (
    <section aria-labelledby="inbox-heading">
      <PageHead level={2} id="inbox-heading" title={t("notifications.tab.inbox")}>
        {list.data && <span role="status">{t("notifications.inbox.unreadCount", { n: list.data.unread })}</span>}
        <button type="button" disabled={markAll.isPending || !list.data || list.data.unread === 0} onClick={() => markAll.mutate()}>
          {t("notifications.inbox.markAllRead")}
        </button>
      </PageHead>
      <div className="filters">
        <SelectField
          label={t("notifications.inbox.filterRead")}
          value={filter.read}
          onChange={(v) => isOneOf(READ_FILTERS, v) && setFilter(withFilter(filter, { read: v }))}
          options={[
            { value: "", label: t("notifications.inbox.any") },
            { value: "unread", label: t("notifications.inbox.unreadOnly") },
            { value: "read", label: t("notifications.inbox.readOnly") },
          ]}
        />
        <SelectField
          label={t("notifications.inbox.severity")}
          value={filter.severity}
          onChange={(v) => setFilter(withFilter(filter, { severity: isOneOf(SEVERITIES, v) ? v : "" }))}
          options={[{ value: "", label: t("notifications.inbox.any") }, ...SEVERITIES.map((s) => ({ value: s, label: severityLabel(t, s) }))]}
        />
        <SelectField
          label={t("notifications.inbox.kind")}
          value={filter.type}
          onChange={(v) => setFilter(withFilter(filter, { type: isOneOf(KINDS, v) ? v : "" }))}
          options={[{ value: "", label: t("notifications.inbox.any") }, ...KINDS.map((k) => ({ value: k, label: kindLabel(t, k) }))]}
        />
      </div>
      {markRead.error && <ErrorNote error={markRead.error} />}
      {markAll.error && <ErrorNote error={markAll.error} />}
      <PagedTable
        query={list}
        onPage={(p) => setFilter({ ...filter, page: p })}
        caption={t("notifications.tab.inbox")}
        columns={columns}
        rowKey={(n) => n.id}
        empty={<Empty>{t("notifications.inbox.empty")}</Empty>}
      />
    </section>
  );
}
