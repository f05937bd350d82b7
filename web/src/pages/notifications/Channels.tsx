/**
 * Channels: where notifications go out (SMTP, webhook, WhatsApp… any
 * notifier plugin) and by which rules, with a test send that shows the
 * notifier's real answer; below, the deliveries made through them.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { api, ok, type Schemas } from "../../api/client";
import { useCan } from "../../auth";
import { ConfirmAction } from "../../components/ConfirmAction";
import { useDateTime } from "../../components/dates";
import { Dialog } from "../../components/Dialog";
import { SelectField } from "../../components/Field";
import { PageHead } from "../../components/PageHead";
import { Empty, ErrorNote, QueryState } from "../../components/State";
import { Status } from "../../components/Status";
import { PagedTable, Table, type Column } from "../../components/Table";
import { useAllPlugins } from "../../components/usePlugins";
import { useNames } from "../../components/useNames";
import { useT } from "../../i18n";
import { ChannelForm, notifierTypes } from "./ChannelDialog";
import type { Channel } from "./channelForm";
import { DELIVERY_STATUSES, isOneOf, type DeliveryStatus } from "./kinds";
import { deliveryLabel, kindLabel, severityLabel } from "./labels";
import "./notifications.css";

type TestResult = Schemas["TestResult"];

export function Channels() {
  const t = useT();
  const can = useCan();
  const writable = can("notifications:write");
  const client = useQueryClient();
  const channels = useQuery({
    queryKey: ["channels", "list"],
    // A server keeps at most 100 channels: one page holds them all.
    queryFn: () => ok(api.GET("/api/notification-channels", { params: { query: { limit: 100 } } })),
  });
  const plugins = useAllPlugins();
  const types = useMemo(() => notifierTypes(plugins.data?.data ?? []), [plugins.data]);
  const names = useNames("channels", ["jobs", "datasources"]);
  const [editing, setEditing] = useState<Channel | "new" | null>(null);
  const [deleting, setDeleting] = useState<Channel | null>(null);
  const [tested, setTested] = useState<{ channel: Channel; result?: TestResult } | null>(null);

  const test = useMutation({
    mutationFn: (c: Channel) => ok(api.POST("/api/notification-channels/{id}/test", { params: { path: { id: c.id } } })),
    onMutate: (c) => setTested({ channel: c }),
    onSuccess: (result, c) => setTested({ channel: c, result }),
  });

  const nameList = (ids: readonly string[]) => ids.map((id) => names.get(id) ?? t("notifications.channels.unknownName")).join(", ");
  const rules = (c: Channel) => (
    <ul className="rules">
      <li>{c.events.length === 0 ? t("notifications.channels.everyKind") : c.events.map((k) => kindLabel(t, k)).join(", ")}</li>
      <li>{t("notifications.channels.fromSeverity", { severity: severityLabel(t, c.min_severity) })}</li>
      {c.job_ids.length > 0 && <li>{t("notifications.channels.onlyJobs", { names: nameList(c.job_ids) })}</li>}
      {c.datasource_ids.length > 0 && <li>{t("notifications.channels.onlyDatasources", { names: nameList(c.datasource_ids) })}</li>}
      <li>
        {c.suppress_minutes === 0
          ? t("notifications.channels.noSuppression")
          : t("notifications.channels.suppressed", { n: c.suppress_minutes })}
      </li>
    </ul>
  );

  const columns: Column<Channel>[] = [
    { header: t("common.name"), cell: (c) => c.name },
    { header: t("common.type"), cell: (c) => c.type },
    {
      header: t("common.status"),
      cell: (c) => <Status value={c.enabled ? "enabled" : "disabled"} label={t(c.enabled ? "notifications.channels.on" : "notifications.channels.off")} />,
    },
    { header: t("notifications.channels.routing"), cell: rules },
  ];
  if (writable) {
    columns.push({
      header: t("common.actions"),
      cell: (c) => (
        <div className="actions">
          <button type="button" className="secondary" onClick={() => setEditing(c)}>
            {t("common.edit")}
          </button>
          <button type="button" className="secondary" disabled={test.isPending} onClick={() => test.mutate(c)}>
            {t("notifications.channels.test")}
          </button>
          <button type="button" className="secondary" onClick={() => setDeleting(c)}>
            {t("common.delete")}
          </button>
        </div>
      ),
    });
  }

  return (
    <>
      <section aria-labelledby="channels-heading">
        <PageHead level={2} id="channels-heading" title={t("notifications.tab.channels")}>
          {writable && (
            <button type="button" disabled={types.size === 0} onClick={() => setEditing("new")}>
              {t("notifications.channels.add")}
            </button>
          )}
        </PageHead>
        {plugins.error && <ErrorNote error={plugins.error} onRetry={() => plugins.refetch()} />}
        {plugins.data && types.size === 0 && <p className="note">{t("notifications.channels.noNotifiers")}</p>}
        <TestOutcome tested={tested} pending={test.isPending} />
        {test.error && <ErrorNote error={test.error} />}
        <QueryState query={channels}>
          {(page) => (
            <Table
              caption={t("notifications.tab.channels")}
              columns={columns}
              rows={page.data}
              rowKey={(c) => c.id}
              empty={<Empty>{t("notifications.channels.empty")}</Empty>}
            />
          )}
        </QueryState>
      </section>
      <Deliveries channels={channels.data?.data ?? []} />
      <Dialog
        title={editing === "new" ? t("notifications.channels.add") : t("notifications.channels.editTitle", { name: editing?.name })}
        open={editing !== null}
        onClose={() => setEditing(null)}
        wide
      >
        {editing !== null && <ChannelForm channel={editing === "new" ? undefined : editing} types={types} onDone={() => setEditing(null)} />}
      </Dialog>
      <ConfirmAction
        item={deleting}
        title={t("common.confirmDeleteTitle", { name: deleting?.name })}
        body={<p>{t("notifications.channels.deleteBody")}</p>}
        confirmLabel={t("common.delete")}
        action={(c) => ok(api.DELETE("/api/notification-channels/{id}", { params: { path: { id: c.id } } }))}
        onDone={() => client.invalidateQueries({ queryKey: ["channels"] })}
        onClose={() => setDeleting(null)}
      />
    </>
  );
}

/** What the last test send did, as the notifier answered (announced to screen readers). */
function TestOutcome({ tested, pending }: { tested: { channel: Channel; result?: TestResult } | null; pending: boolean }) {
  const t = useT();
  return (
    <div role="status" aria-live="polite">
      {tested && pending && !tested.result && <p className="state">{t("notifications.channels.testing", { name: tested.channel.name })}</p>}
      {tested?.result && (
        <div className={tested.result.delivered ? "success test-outcome" : "error-note test-outcome"}>
          <p>
            {tested.result.delivered
              ? t("notifications.channels.testDelivered", { name: tested.channel.name, ms: tested.result.duration_ms })
              : t("notifications.channels.testFailed", { name: tested.channel.name, error: tested.result.error ?? "—" })}
            {!tested.result.delivered && " "}
            {!tested.result.delivered &&
              (tested.result.transient ? t("notifications.channels.testTransient") : t("notifications.channels.testPermanent"))}
          </p>
          <details>
            <summary>{t("notifications.channels.testMessage")}</summary>
            <p>
              <strong>{tested.result.subject}</strong>
            </p>
            <pre className="rendered" tabIndex={0}>
              {tested.result.body}
            </pre>
          </details>
        </div>
      )}
    </div>
  );
}

type Delivery = Schemas["Delivery"];

/** Deliveries, newest first: sent, failing (with the final error) or suppressed as a repeat. */
function Deliveries({ channels }: { channels: readonly Channel[] }) {
  const t = useT();
  const when = useDateTime();
  const [status, setStatus] = useState<"" | DeliveryStatus>("");
  const [channelId, setChannelId] = useState("");
  const [page, setPage] = useState(1);
  const names = new Map(channels.map((c) => [c.id, c.name]));
  const query: { page: number; limit: number; status?: DeliveryStatus; channel_id?: string } = { page, limit: 25 };
  if (status) query.status = status;
  if (channelId) query.channel_id = channelId;
  // Under "notifications": the live stream's notification events refresh it.
  const list = useQuery({
    queryKey: ["notifications", "deliveries", query],
    queryFn: () => ok(api.GET("/api/notification-deliveries", { params: { query } })),
    placeholderData: keepPreviousData,
  });
  const columns: Column<Delivery>[] = [
    { header: t("common.created"), cell: (d) => when(d.created_at) },
    { header: t("notifications.deliveries.channel"), cell: (d) => names.get(d.channel_id) ?? t("notifications.channels.unknownName") },
    { header: t("notifications.deliveries.subject"), cell: (d) => d.subject ?? "—" },
    { header: t("common.status"), cell: (d) => <Status value={d.status} label={deliveryLabel(t, d.status)} /> },
    { header: t("notifications.deliveries.attempts"), cell: (d) => d.attempts, className: "num" },
    {
      header: t("notifications.deliveries.error"),
      cell: (d) =>
        d.status === "pending" && d.last_error
          ? t("notifications.deliveries.retrying", { error: d.last_error, when: when(d.next_attempt_at) })
          : (d.last_error ?? "—"),
    },
    { header: t("notifications.deliveries.deliveredAt"), cell: (d) => when(d.delivered_at) },
  ];
  return (
    <section aria-labelledby="deliveries-heading">
      <PageHead level={2} id="deliveries-heading" title={t("notifications.deliveries.title")}>
        <button type="button" className="secondary" disabled={list.isFetching} onClick={() => list.refetch()}>
          {t("notifications.deliveries.refresh")}
        </button>
      </PageHead>
      <div className="filters">
        <SelectField
          label={t("common.status")}
          value={status}
          onChange={(v) => {
            setStatus(isOneOf(DELIVERY_STATUSES, v) ? v : "");
            setPage(1);
          }}
          options={[{ value: "", label: t("notifications.inbox.any") }, ...DELIVERY_STATUSES.map((s) => ({ value: s, label: deliveryLabel(t, s) }))]}
        />
        <SelectField
          label={t("notifications.deliveries.channel")}
          value={channelId}
          onChange={(v) => {
            setChannelId(v);
            setPage(1);
          }}
          options={[{ value: "", label: t("notifications.inbox.any") }, ...channels.map((c) => ({ value: c.id, label: c.name }))]}
        />
      </div>
      <PagedTable
        query={list}
        onPage={setPage}
        caption={t("notifications.deliveries.title")}
        columns={columns}
        rowKey={(d) => d.id}
        empty={<Empty>{t("notifications.deliveries.empty")}</Empty>}
      />
    </section>
  );
}
