/**
 * Message templates: one per notification kind and channel type, in
 * minijinja. Choosing one opens its editor (its address is
 * `/notifications/templates/ID`), with a preview rendered by the server
 * against its sample event, and its versions: every save is a new
 * version, and reverting makes a copy of an old one current.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { api, ok, type Schemas } from "../../api/client";
import { placeError } from "../../api/errors";
import { useCan } from "../../auth";
import { ConfirmAction } from "../../components/ConfirmAction";
import { useDateTime } from "../../components/dates";
import { Field, FormError, SelectField, TextField } from "../../components/Field";
import { Empty, ErrorNote, QueryState } from "../../components/State";
import { Table, type Column } from "../../components/Table";
import { useT } from "../../i18n";
import { kindLabel } from "./labels";
import "./notifications.css";

type Template = Schemas["TemplateView"];
type Version = Schemas["TemplateVersion"];
type TemplatePage = Schemas["Page_TemplateView"];

/**
 * After a save or a revert: the answer is the template as it is now, put
 * into the cached list at once (the editor starts again from the new
 * version), then everything about templates is read again.
 */
function useStore() {
  const client = useQueryClient();
  return (saved: Template) => {
    client.setQueryData<TemplatePage>(["templates", "list"], (page) =>
      page ? { ...page, data: page.data.map((tpl) => (tpl.id === saved.id ? saved : tpl)) } : page,
    );
    client.invalidateQueries({ queryKey: ["templates"] });
  };
}

/** A rendered text. Focusable: a long one scrolls, and the keyboard must reach it. */
function Rendered({ text }: { text: string }) {
  return (
    <pre className="rendered" tabIndex={0}>
      {text}
    </pre>
  );
}

export function Templates() {
  const t = useT();
  const when = useDateTime();
  const { id } = useParams();
  const [channel, setChannel] = useState("");
  const list = useQuery({ queryKey: ["templates", "list"], queryFn: () => ok(api.GET("/api/system/notification-templates")) });
  const templates = list.data?.data ?? [];
  const selected = templates.find((tpl) => tpl.id === id);
  const channels = [...new Set(templates.map((tpl) => tpl.channel))].sort();
  const shown = channel ? templates.filter((tpl) => tpl.channel === channel) : templates;

  const columns: Column<Template>[] = [
    {
      header: t("notifications.templates.kind"),
      cell: (tpl) => (
        <Link to={`/notifications/templates/${tpl.id}`} aria-current={tpl.id === id ? "true" : undefined}>
          {kindLabel(t, tpl.type)}
        </Link>
      ),
    },
    { header: t("notifications.templates.channel"), cell: (tpl) => tpl.channel },
    { header: t("notifications.templates.version"), cell: (tpl) => tpl.active_version, className: "num" },
    { header: t("notifications.templates.updated"), cell: (tpl) => when(tpl.updated_at) },
  ];

  return (
    <>
      {id && list.data && !selected && <ErrorNote error={t("notifications.templates.notFound")} />}
      {selected && <TemplateDetail key={selected.id} template={selected} />}
      <section aria-labelledby="templates-heading">
        <h2 id="templates-heading">{t("notifications.tab.templates")}</h2>
        <p className="help">{t("notifications.templates.intro")}</p>
        <div className="filters">
          <SelectField
            label={t("notifications.templates.channel")}
            value={channel}
            onChange={setChannel}
            options={[{ value: "", label: t("notifications.inbox.any") }, ...channels.map((c) => ({ value: c, label: c }))]}
          />
        </div>
        <QueryState query={list}>
          {() => (
            <Table
              caption={t("notifications.tab.templates")}
              columns={columns}
              rows={shown}
              rowKey={(tpl) => tpl.id}
              empty={<Empty>{t("notifications.templates.empty")}</Empty>}
            />
          )}
        </QueryState>
      </section>
    </>
  );
}

/** One template: its editor and its versions. The notice outlives the editor, which starts again from each new version. */
function TemplateDetail({ template }: { template: Template }) {
  const t = useT();
  const when = useDateTime();
  const can = useCan();
  const writable = can("notifications:write");
  const store = useStore();
  const [notice, setNotice] = useState("");
  const [reverting, setReverting] = useState<Version | null>(null);
  const title = t("notifications.templates.editing", { kind: kindLabel(t, template.type), channel: template.channel });
  const versions = useQuery({
    queryKey: ["templates", template.id, "versions"],
    queryFn: () => ok(api.GET("/api/system/notification-templates/{id}/versions", { params: { path: { id: template.id } } })),
  });

  const columns: Column<Version>[] = [
    {
      header: t("notifications.templates.version"),
      cell: (v) => (v.version === template.active_version ? t("notifications.templates.activeVersion", { version: v.version }) : v.version),
    },
    { header: t("common.created"), cell: (v) => when(v.created_at) },
    { header: t("notifications.templates.subject"), cell: (v) => v.subject ?? t("notifications.templates.defaultSubject") },
  ];
  if (writable) {
    columns.push({
      header: t("common.actions"),
      cell: (v) =>
        v.version === template.active_version ? null : (
          <button type="button" className="secondary" onClick={() => setReverting(v)}>
            {t("notifications.templates.revert")}
          </button>
        ),
    });
  }

  return (
    <section aria-labelledby="template-heading" className="panel">
      <h2 id="template-heading">{title}</h2>
      <div role="status">{notice && <p className="success">{notice}</p>}</div>
      <TemplateForm key={template.active_version} template={template} writable={writable} onSaved={(v) => setNotice(t("notifications.templates.saved", { version: v }))} />
      <h3>{t("notifications.templates.versions")}</h3>
      <QueryState query={versions}>
        {(page) => <Table caption={t("notifications.templates.versions")} columns={columns} rows={page.data} rowKey={(v) => String(v.version)} />}
      </QueryState>
      <ConfirmAction
        item={reverting}
        title={t("notifications.templates.revertTitle", { version: reverting?.version })}
        body={
          <>
            <p>{t("notifications.templates.revertBody", { version: reverting?.version })}</p>
            {reverting && <Rendered text={reverting.body} />}
          </>
        }
        confirmLabel={t("notifications.templates.revert")}
        action={(v) =>
          ok(api.POST("/api/system/notification-templates/{id}/revert", { params: { path: { id: template.id } }, body: { version: v.version } }))
        }
        onDone={(saved, v) => {
          setNotice(t("notifications.templates.reverted", { from: v.version, version: saved.active_version }));
          store(saved);
        }}
        onClose={() => setReverting(null)}
      />
    </section>
  );
}

/** The editable text of the active version, its preview and Save. */
function TemplateForm({ template, writable, onSaved }: { template: Template; writable: boolean; onSaved: (version: number) => void }) {
  const t = useT();
  const store = useStore();
  const [subject, setSubject] = useState(template.subject ?? "");
  const [body, setBody] = useState(template.body);
  const text = () => ({ subject: subject.trim() === "" ? null : subject, body });
  const preview = useMutation({ mutationFn: () => ok(api.POST("/api/system/notification-templates/preview", { body: text() })) });
  const save = useMutation({
    mutationFn: () => ok(api.PUT("/api/system/notification-templates/{id}", { params: { path: { id: template.id } }, body: text() })),
    onSuccess: (saved) => {
      onSaved(saved.active_version);
      store(saved);
    },
  });
  // A save's refusal names the part that does not render; so does a preview's.
  const failure = save.error ?? preview.error;
  const placed = placeError(failure, ["subject", "body"]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    preview.reset();
    save.mutate();
  };
  return (
    <div className="editor-grid">
      <form onSubmit={submit} noValidate>
        <TextField
          label={t("notifications.templates.subject")}
          value={subject}
          onChange={setSubject}
          help={t("notifications.templates.subjectHelp")}
          error={placed.fields.subject}
          autoComplete="off"
        />
        <Field label={t("notifications.templates.body")} error={placed.fields.body} help={t("notifications.templates.bodyHelp")}>
          {(p) => <textarea {...p} className="code" rows={14} spellCheck={false} required value={body} onChange={(e) => setBody(e.target.value)} />}
        </Field>
        <FormError message={placed.general} />
        <div className="actions">
          <button
            type="button"
            className="secondary"
            disabled={preview.isPending}
            onClick={() => {
              save.reset();
              preview.mutate();
            }}
          >
            {t("notifications.templates.preview")}
          </button>
          {writable && (
            <button type="submit" disabled={save.isPending || body.trim() === ""}>
              {save.isPending ? t("common.saving") : t("common.save")}
            </button>
          )}
        </div>
      </form>
      <div role="status" aria-live="polite">
        {preview.data && (
          <div>
            <h3>{t("notifications.templates.previewTitle")}</h3>
            <p>
              <strong>{preview.data.subject}</strong>
            </p>
            <Rendered text={preview.data.body} />
            <details>
              <summary>{t("notifications.templates.variables")}</summary>
              <Rendered text={JSON.stringify(preview.data.context, null, 2)} />
            </details>
          </div>
        )}
      </div>
    </div>
  );
}
