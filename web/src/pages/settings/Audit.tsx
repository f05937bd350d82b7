/**
 * The audit log (audit:read): every change, run, download, restore and
 * sign-in, newest first, by whom and from where. Filters apply when the
 * form is sent, not at each keystroke.
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ok, type Schemas } from "../../api/client";
import { useDateTime } from "../../components/dates";
import { TextField } from "../../components/Field";
import { Empty } from "../../components/State";
import { Status } from "../../components/Status";
import { PagedTable, type Column } from "../../components/Table";
import { useNames } from "../../components/useNames";
import { useT } from "../../i18n";
import { auditQuery, NO_AUDIT_FILTER, type AuditFilter } from "./access";

type Row = Schemas["AuditLog"];

export function Audit() {
  const t = useT();
  const when = useDateTime();
  const [draft, setDraft] = useState<AuditFilter>(NO_AUDIT_FILTER);
  const [applied, setApplied] = useState<AuditFilter>(NO_AUDIT_FILTER);
  const [page, setPage] = useState(1);
  const query = auditQuery(applied, page);
  const rows = useQuery({
    queryKey: ["audit", query],
    queryFn: () => ok(api.GET("/api/audit-logs", { params: { query } })),
    placeholderData: keepPreviousData,
  });
  // Audit rows carry the id of what was acted on; show its name where the reader may see it.
  const names = useNames("audit", ["datasources", "storages", "jobs", "channels", "users", "roles", "tokens", "templates"]);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setApplied(draft);
    setPage(1);
  };
  const clear = () => {
    setDraft(NO_AUDIT_FILTER);
    setApplied(NO_AUDIT_FILTER);
    setPage(1);
  };

  const columns: Column<Row>[] = [
    { header: t("settings.audit.time"), cell: (r) => when(r.created_at) },
    { header: t("settings.audit.actor"), cell: (r) => r.actor },
    { header: t("settings.audit.action"), cell: (r) => <code>{r.action}</code> },
    {
      header: t("settings.audit.entity"),
      cell: (r) => {
        if (!r.entity_type) return "—";
        const name = r.entity_id ? names.get(r.entity_id) : undefined;
        return (
          <>
            {name && <>{name} </>}
            <small className="help">{r.entity_type}</small>
          </>
        );
      },
    },
    {
      header: t("settings.audit.outcome"),
      cell: (r) => <Status value={r.outcome} label={t(`settings.audit.outcome.${r.outcome}` as const)} />,
    },
    { header: t("settings.audit.client"), cell: (r) => r.client ?? "—" },
  ];

  const set = (field: keyof AuditFilter) => (v: string) => setDraft({ ...draft, [field]: v });

  return (
    <section aria-labelledby="audit-heading">
      <h2 id="audit-heading">{t("settings.tab.audit")}</h2>
      <form className="filters" onSubmit={apply} aria-label={t("settings.audit.filters")}>
        <TextField label={t("settings.audit.actor")} value={draft.actor} onChange={set("actor")} help={t("settings.audit.actorHelp")} autoComplete="off" />
        <TextField label={t("settings.audit.action")} value={draft.action} onChange={set("action")} help={t("settings.audit.actionHelp")} autoComplete="off" />
        <TextField label={t("settings.audit.from")} type="datetime-local" value={draft.from} onChange={set("from")} />
        <TextField label={t("settings.audit.to")} type="datetime-local" value={draft.to} onChange={set("to")} />
        <div className="actions">
          <button type="submit">{t("settings.audit.apply")}</button>
          <button type="button" className="secondary" onClick={clear}>
            {t("settings.audit.clear")}
          </button>
        </div>
      </form>
      <PagedTable query={rows} onPage={setPage} caption={t("settings.tab.audit")} columns={columns} rowKey={(r) => r.id} empty={<Empty>{t("settings.audit.empty")}</Empty>} />
    </section>
  );
}
