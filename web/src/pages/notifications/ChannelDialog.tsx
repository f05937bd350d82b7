/**
 * Adding or editing a notification channel: its name, the notifier type
 * (any installed notifier plugin), the notifier's configuration drawn
 * from the plugin's JSON Schema, and the routing rules (which kinds,
 * from which severity, about which jobs and datasources, how long a
 * repeat stays quiet).
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState, type FormEvent } from "react";
import { api, ok, type Schemas } from "../../api/client";
import { CheckList } from "../../components/CheckList";
import { DialogActions } from "../../components/Dialog";
import { CheckboxField, Field, FormError, SelectField, TextField, useFieldMessage } from "../../components/Field";
import { SchemaFields } from "../../components/SchemaForm";
import { useNamedList } from "../../components/useNames";
import { useT } from "../../i18n";
import type { Named } from "../../lib/names";
import { fromConfig, type Plugin } from "../../lib/pluginTypes";
import { fieldsOf, initialValues, type FormValues } from "../../lib/schemaForm";
import {
  assembleChannel,
  MAX_SUPPRESS_MINUTES,
  objectTexts,
  placeChannelFailure,
  routingOf,
  splitSchema,
  type Channel,
  type ChannelErrors,
  type Routing,
} from "./channelForm";
import { isOneOf, KINDS, SEVERITIES } from "./kinds";
import { kindLabel, severityLabel } from "./labels";

/** The notifier types installed, each with the plugin that provides it. */
export function notifierTypes(plugins: readonly Plugin[]): Map<string, Plugin> {
  const out = new Map<string, Plugin>();
  for (const p of plugins) if (p.kind === "notifier") for (const type of p.serves) out.set(type, p);
  return out;
}

/**
 * The form of one notifier type: its flat fields, in the plugin's order,
 * and its object fields.
 */
function formOf(plugin: Plugin | undefined) {
  const { flat, objects } = splitSchema(plugin?.config_schema);
  const fields = fieldsOf(flat, plugin?.secret_fields ?? [], plugin?.field_order ?? []);
  return { fields, objects };
}

export function ChannelForm({ channel, types, onDone }: { channel?: Channel; types: Map<string, Plugin>; onDone: () => void }) {
  const t = useT();
  const message = useFieldMessage();
  const client = useQueryClient();
  const editing = channel !== undefined;
  const [name, setName] = useState(channel?.name ?? "");
  const [type, setType] = useState(channel?.type ?? [...types.keys()][0] ?? "");
  const form = useMemo(() => formOf(types.get(type)), [types, type]);
  // The server keeps a stored secret left empty only while the type stays.
  const keepsSecrets = editing && channel?.type === type;
  const stored = channel && channel.type === type ? fromConfig(channel.config) : {};
  const [values, setValues] = useState<FormValues>(() => initialValues(form.fields, stored));
  const [texts, setTexts] = useState<Record<string, string>>(() => objectTexts(form.objects, stored));
  const [routing, setRouting] = useState<Routing>(() => routingOf(channel));
  const [local, setLocal] = useState<ChannelErrors>({ fields: {}, config: {} });
  const jobs = useNamedList("channels", "jobs");
  const datasources = useNamedList("channels", "datasources");

  const save = useMutation({
    mutationFn: (body: Schemas["CreateChannel"]) =>
      channel
        ? ok(api.PUT("/api/notification-channels/{id}", { params: { path: { id: channel.id } }, body }))
        : ok(api.POST("/api/notification-channels", { body })),
    onSuccess: () => {
      client.invalidateQueries({ queryKey: ["channels"] });
      onDone();
    },
  });

  const configNames = [...form.fields.map((f) => f.name), ...form.objects.map((o) => o.name)];
  const placed = save.error ? placeChannelFailure(save.error, configNames) : { fields: {}, config: {}, general: undefined };
  const fieldError = (f: string) => message(local.fields[f] ?? placed.fields[f]);
  const configErrors = { ...placed.config, ...local.config };
  const objectError = (f: string) => (configErrors[f] === "json" ? t("notifications.channels.invalidJson") : message(configErrors[f]));

  const changeType = (next: string) => {
    setType(next);
    const nextForm = formOf(types.get(next));
    const config = channel && channel.type === next ? fromConfig(channel.config) : {};
    setValues(initialValues(nextForm.fields, config));
    setTexts(objectTexts(nextForm.objects, config));
    setLocal({ fields: {}, config: {} });
    save.reset();
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const built = assembleChannel({ name, type, fields: form.fields, values, objects: form.objects, texts, routing, editing: keepsSecrets });
    setLocal(built.errors);
    if (built.body) save.mutate(built.body);
  };

  const typeOptions = [...types.keys()].map((k) => ({ value: k, label: k }));
  if (channel && !types.has(channel.type)) typeOptions.unshift({ value: channel.type, label: channel.type });

  return (
    <form onSubmit={submit} noValidate>
      <div className="form-grid">
        <TextField label={t("common.name")} value={name} onChange={setName} required error={fieldError("name")} autoComplete="off" />
        <SelectField label={t("common.type")} value={type} onChange={changeType} options={typeOptions} required error={fieldError("type")} />
      </div>
      {type !== "" && (
        <fieldset>
          <legend>{t("notifications.channels.configuration", { type })}</legend>
          {form.fields.length === 0 && form.objects.length === 0 && <p className="help">{t("notifications.channels.noSchema")}</p>}
          <div className="form-grid">
            <SchemaFields
              fields={form.fields}
              values={values}
              onChange={(field, value) => setValues({ ...values, [field]: value })}
              errors={configErrors}
              editing={keepsSecrets}
            />
          </div>
          {form.objects.map((o) => (
            <Field key={o.name} label={o.label} error={objectError(o.name)} help={o.description ?? t("notifications.channels.jsonHelp")}>
              {(p) => (
                <textarea
                  {...p}
                  rows={5}
                  spellCheck={false}
                  value={texts[o.name] ?? ""}
                  required={o.required}
                  onChange={(e) => setTexts({ ...texts, [o.name]: e.target.value })}
                />
              )}
            </Field>
          ))}
        </fieldset>
      )}
      <RoutingFields routing={routing} onChange={setRouting} error={fieldError} jobs={jobs.data} datasources={datasources.data} />
      <FormError message={placed.general} />
      <DialogActions onCancel={onDone} saving={save.isPending} />
    </form>
  );
}

function RoutingFields({
  routing,
  onChange,
  error,
  jobs,
  datasources,
}: {
  routing: Routing;
  onChange: (r: Routing) => void;
  error: (field: string) => string | undefined;
  jobs?: readonly Named[];
  datasources?: readonly Named[];
}) {
  const t = useT();
  const named = (list: readonly Named[]) => list.map((x) => ({ value: x.id, label: x.name ?? x.username ?? "" }));
  return (
    <>
      <div className="form-grid">
        <SelectField
          label={t("notifications.channels.minSeverity")}
          value={routing.minSeverity}
          onChange={(v) => isOneOf(SEVERITIES, v) && onChange({ ...routing, minSeverity: v })}
          options={SEVERITIES.map((s) => ({ value: s, label: severityLabel(t, s) }))}
          help={t("notifications.channels.minSeverityHelp")}
          error={error("min_severity")}
        />
        <TextField
          label={t("notifications.channels.suppress")}
          value={routing.suppressMinutes}
          onChange={(v) => onChange({ ...routing, suppressMinutes: v })}
          inputMode="numeric"
          help={t("notifications.channels.suppressHelp", { max: MAX_SUPPRESS_MINUTES })}
          error={error("suppress_minutes")}
        />
        <CheckboxField label={t("notifications.channels.enabled")} checked={routing.enabled} onChange={(v) => onChange({ ...routing, enabled: v })} />
      </div>
      {/* In each list below, none checked means "all" (as its help says). */}
      <CheckList
        legend={t("notifications.channels.events")}
        help={t("notifications.channels.eventsHelp")}
        items={KINDS.map((k) => ({ value: k, label: kindLabel(t, k) }))}
        checked={routing.events}
        onChange={(events) => onChange({ ...routing, events })}
        error={error("events")}
      />
      {jobs && jobs.length > 0 && (
        <CheckList
          legend={t("notifications.channels.jobs")}
          help={t("notifications.channels.jobsHelp")}
          items={named(jobs)}
          checked={routing.jobIds}
          onChange={(jobIds) => onChange({ ...routing, jobIds })}
          error={error("job_ids")}
        />
      )}
      {datasources && datasources.length > 0 && (
        <CheckList
          legend={t("notifications.channels.datasources")}
          help={t("notifications.channels.datasourcesHelp")}
          items={named(datasources)}
          checked={routing.datasourceIds}
          onChange={(datasourceIds) => onChange({ ...routing, datasourceIds })}
          error={error("datasource_ids")}
        />
      )}
    </>
  );
}
