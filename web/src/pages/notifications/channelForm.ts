/**
 * The channel form's logic: the notifier's configuration (from its JSON
 * Schema, as lib/schemaForm.ts draws it), the routing rules of the
 * `CreateChannel` schema, and where the server's refusals land.
 *
 * Error values are the codes `useFieldMessage` translates (`required`,
 * `whole number`, `min:0`…), plus `json` for a JSON text that does not
 * parse to an object; a server message passes through as it is.
 */
import type { Schemas } from "../../api/client";
import { ApiFailure, placeFailure } from "../../api/errors";
import { buildConfig, labelOf, type FieldSpec, type FormValues } from "../../lib/schemaForm";
import { KINDS, type NotificationKind, type Severity } from "./kinds";

export type Channel = Schemas["ChannelView"];
export type ChannelBody = Schemas["CreateChannel"];

/**
 * A property of a notifier's schema that is itself an object (WhatsApp's
 * `template`). lib/schemaForm has no input for one (it would send the
 * text as a string), so this form edits it as JSON.
 */
export type ObjectField = { name: string; label: string; description?: string; required: boolean };

type Prop = { type?: string | string[]; title?: string; description?: string };
type ObjectSchema = { properties?: Record<string, Prop>; required?: string[] };

/** The schema without its object properties (for `fieldsOf`), and those properties apart. */
export function splitSchema(schema: unknown): { flat: ObjectSchema; objects: ObjectField[] } {
  const s = (schema && typeof schema === "object" ? schema : {}) as ObjectSchema;
  const required = new Set(s.required ?? []);
  const flat: Record<string, Prop> = {};
  const objects: ObjectField[] = [];
  for (const [name, prop] of Object.entries(s.properties ?? {})) {
    const types = Array.isArray(prop.type) ? prop.type : [prop.type];
    if (types.includes("object")) {
      objects.push({ name, label: prop.title ?? labelOf(name), description: prop.description, required: required.has(name) });
    } else {
      flat[name] = prop;
    }
  }
  return { flat: { ...s, properties: flat, required: (s.required ?? []).filter((n) => n in flat) }, objects };
}

/** The JSON texts of the object fields, from a stored configuration. */
export function objectTexts(objects: readonly ObjectField[], config: Record<string, unknown> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of objects) {
    const v = config[o.name];
    out[o.name] = v === undefined || v === null ? "" : JSON.stringify(v, null, 2);
  }
  return out;
}

/** The object fields' values; an empty one is left out (an error when required). */
export function parseObjects(
  objects: readonly ObjectField[],
  texts: Record<string, string>,
): { config: Record<string, unknown>; errors: Record<string, string> } {
  const config: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const o of objects) {
    const text = (texts[o.name] ?? "").trim();
    if (text === "") {
      if (o.required) errors[o.name] = "required";
      continue;
    }
    try {
      const v: unknown = JSON.parse(text);
      if (v && typeof v === "object" && !Array.isArray(v)) config[o.name] = v;
      else errors[o.name] = "json";
    } catch {
      errors[o.name] = "json";
    }
  }
  return { config, errors };
}

/** The routing rules as the form holds them. */
export type Routing = {
  enabled: boolean;
  /** Empty: every kind. */
  events: NotificationKind[];
  minSeverity: Severity;
  /** Empty: every job. */
  jobIds: string[];
  /** Empty: every datasource. */
  datasourceIds: string[];
  suppressMinutes: string;
};

/** The server's default for a repeat's suppression (minutes) and its most (a week). */
export const DEFAULT_SUPPRESS_MINUTES = 30;
export const MAX_SUPPRESS_MINUTES = 7 * 24 * 60;

export function routingOf(c?: Channel): Routing {
  if (!c) {
    return { enabled: true, events: [], minSeverity: "info", jobIds: [], datasourceIds: [], suppressMinutes: String(DEFAULT_SUPPRESS_MINUTES) };
  }
  return {
    enabled: c.enabled,
    events: [...c.events],
    minSeverity: c.min_severity,
    jobIds: [...c.job_ids],
    datasourceIds: [...c.datasource_ids],
    suppressMinutes: String(c.suppress_minutes),
  };
}

type Rules = Pick<ChannelBody, "enabled" | "events" | "min_severity" | "job_ids" | "datasource_ids" | "suppress_minutes">;

/** The routing fields of the request, or the errors under `suppress_minutes`. */
export function buildRouting(r: Routing): { rules: Rules; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const rules: Rules = {
    enabled: r.enabled,
    events: KINDS.filter((k) => r.events.includes(k)),
    min_severity: r.minSeverity,
    job_ids: [...r.jobIds],
    datasource_ids: [...r.datasourceIds],
  };
  const text = r.suppressMinutes.trim();
  if (text !== "") {
    const n = Number(text);
    if (!Number.isInteger(n)) errors.suppress_minutes = "whole number";
    else if (n < 0) errors.suppress_minutes = "min:0";
    else if (n > MAX_SUPPRESS_MINUTES) errors.suppress_minutes = `max:${MAX_SUPPRESS_MINUTES}`;
    else rules.suppress_minutes = n;
  }
  return { rules, errors };
}

/** Everything the dialog holds. */
export type ChannelDraft = {
  name: string;
  type: string;
  fields: readonly FieldSpec[];
  values: FormValues;
  objects: readonly ObjectField[];
  texts: Record<string, string>;
  routing: Routing;
  /** Editing a stored channel: an empty secret keeps the stored one. */
  editing: boolean;
};

export type ChannelErrors = { fields: Record<string, string>; config: Record<string, string> };

/** The request body, or the errors to show (channel fields and configuration fields apart). */
export function assembleChannel(d: ChannelDraft): { body?: ChannelBody; errors: ChannelErrors } {
  const fields: Record<string, string> = {};
  if (d.name.trim() === "") fields.name = "required";
  if (d.type === "") fields.type = "required";
  const flat = buildConfig(d.fields, d.values, d.editing);
  const objects = parseObjects(d.objects, d.texts);
  const routing = buildRouting(d.routing);
  Object.assign(fields, routing.errors);
  const config = { ...flat.errors, ...objects.errors };
  if (Object.keys(fields).length > 0 || Object.keys(config).length > 0) return { errors: { fields, config } };
  return {
    body: {
      name: d.name.trim(),
      type: d.type,
      config: { ...flat.config, ...objects.config } as ChannelBody["config"],
      ...routing.rules,
    },
    errors: { fields: {}, config: {} },
  };
}

/** The channel's own fields a refusal may name (`events[2]` lands on `events`). */
export const CHANNEL_FIELDS = ["name", "type", "events", "min_severity", "job_ids", "datasource_ids", "suppress_minutes", "enabled"] as const;

/**
 * Where the server's refusal goes: `config.host` under the Host input;
 * `config` with a message the plugin began with a field's name
 * (`url: not an http(s) URL`) under that field; a channel field under
 * its input; anything else above the form.
 */
export function placeChannelFailure(failure: unknown, configFields: readonly string[]): ChannelErrors & { general?: string } {
  if (failure instanceof ApiFailure && failure.field === "config") {
    // The server's message may repeat the field first: `config: url: …`.
    const m = /^(?:config: )?([A-Za-z_][A-Za-z0-9_]*): (.+)$/s.exec(failure.message);
    if (m && configFields.includes(m[1])) return { fields: {}, config: { [m[1]]: m[2] } };
  }
  if (failure instanceof ApiFailure && failure.field?.startsWith("config.")) {
    const placed = placeFailure(failure, configFields, "config");
    return { fields: {}, config: placed.fields, general: placed.general };
  }
  const placed = placeFailure(failure, CHANNEL_FIELDS);
  // `config: config: …` when the message names its field already.
  const general = failure instanceof ApiFailure && failure.field && failure.message.startsWith(failure.field + ": ") ? failure.message : placed.general;
  return { fields: placed.fields, config: {}, general: placed.general === undefined ? undefined : general };
}
