/**
 * Forms drawn from a plugin's configuration schema (JSON Schema, as
 * `GET /api/plugins` reports it). Each property becomes one field: its
 * label is the schema's `title`, else the property name in words
 * (`auth_database` → "Auth database"); secret fields (those the server
 * lists in `secret_fields`: the ones it seals) are password inputs
 * that are never filled from the server and, left empty on an edit,
 * keep the stored value.
 */

export type FieldKind = "text" | "integer" | "number" | "boolean" | "select" | "secret" | "list";

export type FieldSpec = {
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  description?: string;
  options?: string[];
  defaultValue?: unknown;
  minimum?: number;
  maximum?: number;
};

type JsonSchema = {
  type?: string | string[];
  title?: string;
  description?: string;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
};

/** `auth_database` → "Auth database"; `sslmode` stays "Sslmode" unless titled. */
export function labelOf(name: string): string {
  const words = name.replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function kindOf(prop: JsonSchema, secret: boolean): FieldKind {
  if (secret) return "secret";
  if (Array.isArray(prop.enum) && prop.enum.length > 0) return "select";
  const type = Array.isArray(prop.type) ? prop.type.find((t) => t !== "null") : prop.type;
  switch (type) {
    case "integer":
      return "integer";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "array":
      return "list";
    default:
      return "text";
  }
}

/**
 * The fields of `schema`, then secrets it names but does not describe.
 * `order` is the plugin's order of its properties (`field_order` of
 * `GET /api/plugins`: a JSON object's own order does not survive the
 * server); properties it does not name come after, in the object's order.
 */
export function fieldsOf(schema: unknown, secretFields: readonly string[] = [], order: readonly string[] = []): FieldSpec[] {
  const s = (schema ?? {}) as JsonSchema;
  const required = new Set(s.required ?? []);
  const secrets = new Set(secretFields);
  const out: FieldSpec[] = [];
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  const entries = Object.entries(s.properties ?? {}).sort(([a], [b]) => rank(a) - rank(b));
  for (const [name, prop] of entries) {
    const kind = kindOf(prop, secrets.has(name));
    out.push({
      name,
      label: prop.title ?? labelOf(name),
      kind,
      required: required.has(name),
      description: prop.description,
      options: kind === "select" ? (prop.enum ?? []).map(String) : undefined,
      defaultValue: prop.default,
      minimum: prop.minimum,
      maximum: prop.maximum,
    });
  }
  for (const name of secrets) {
    if (!out.some((f) => f.name === name)) {
      out.push({ name, label: labelOf(name), kind: "secret", required: false });
    }
  }
  return out;
}

/** Form values are strings (and booleans): what the inputs hold. */
export type FormValues = Record<string, string | boolean>;

/** The inputs' starting values: the stored config, else the schema's defaults; secrets start empty. */
export function initialValues(fields: readonly FieldSpec[], config: Record<string, unknown> = {}): FormValues {
  const out: FormValues = {};
  for (const f of fields) {
    const v = f.kind === "secret" ? undefined : (config[f.name] ?? f.defaultValue);
    if (f.kind === "boolean") out[f.name] = v === true;
    else if (f.kind === "list") out[f.name] = Array.isArray(v) ? v.join("\n") : "";
    else out[f.name] = v === undefined || v === null ? "" : String(v);
  }
  return out;
}

export type Built = { config: Record<string, unknown>; errors: Record<string, string> };

/**
 * The config object to send. Empty optional fields are left out (the
 * server applies its defaults); an empty secret is left out on an edit
 * (the stored one is kept) and is an error on a create when required.
 * Numbers are checked here so the message sits under the field at once.
 */
export function buildConfig(fields: readonly FieldSpec[], values: FormValues, editing: boolean): Built {
  const config: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const raw = values[f.name];
    if (f.kind === "boolean") {
      config[f.name] = raw === true;
      continue;
    }
    const text = typeof raw === "string" ? raw.trim() : "";
    if (text === "") {
      if (f.required && !(editing && f.kind === "secret")) errors[f.name] = "required";
      continue;
    }
    if (f.kind === "integer" || f.kind === "number") {
      const n = Number(text);
      if (!Number.isFinite(n) || (f.kind === "integer" && !Number.isInteger(n))) {
        errors[f.name] = f.kind === "integer" ? "whole number" : "number";
        continue;
      }
      if (f.minimum !== undefined && n < f.minimum) errors[f.name] = `min:${f.minimum}`;
      else if (f.maximum !== undefined && n > f.maximum) errors[f.name] = `max:${f.maximum}`;
      else config[f.name] = n;
      continue;
    }
    if (f.kind === "list") {
      config[f.name] = text
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "");
      continue;
    }
    // Secrets keep their spaces: a password may end in one.
    config[f.name] = f.kind === "secret" ? (raw as string) : text;
  }
  return { config, errors };
}
