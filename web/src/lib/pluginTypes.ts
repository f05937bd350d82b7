/**
 * Pure helpers over `GET /api/plugins`: which types a form offers, which
 * plugin serves a type, and how a stored configuration reads as facts.
 * Shared by the datasource forms (engine plugins) and the storage forms
 * (storage plugins).
 */
import type { Schemas } from "../api/client";
import { fieldsOf, labelOf, type FieldSpec } from "./schemaForm";

export type Plugin = Schemas["PluginView"];

/** The API types free-form JSON objects as `Record<string, never>`; the forms build `Record<string, unknown>`. */
export type ApiConfig = Record<string, never>;
export const asConfig = (c: Record<string, unknown>): ApiConfig => c as ApiConfig;
export const fromConfig = (c: ApiConfig | null | undefined): Record<string, unknown> => (c ?? {}) as Record<string, unknown>;

/** Every type the plugins serve, in their order, once. `current` is kept even when no plugin serves it any more, so an edit still shows what is stored. */
export function typeOptions(plugins: readonly Plugin[], current = ""): string[] {
  const out: string[] = [];
  for (const p of plugins) for (const type of p.serves) if (!out.includes(type)) out.push(type);
  if (current !== "" && !out.includes(current)) out.push(current);
  return out;
}

export function pluginFor(plugins: readonly Plugin[], type: string): Plugin | undefined {
  // `serves`, not `provides`: a plugin the operator let replace a built-in serves its type, and its schema is the one that applies.
  return type === "" ? undefined : plugins.find((p) => p.serves.includes(type));
}

/** The form fields of `type`'s configuration (none for an unknown type). */
export function fieldsFor(plugins: readonly Plugin[], type: string): FieldSpec[] {
  const plugin = pluginFor(plugins, type);
  return plugin ? fieldsOf(plugin.config_schema, plugin.secret_fields, plugin.field_order) : [];
}

export type ConfigFact = { name: string; label: string; value: string | boolean };

const HIDDEN = "********";

/**
 * A stored configuration as label/value pairs: the schema's fields in its
 * order (with its labels), then any other key the server returned. Secrets
 * read `********` whatever the server sent; empty values are left out.
 */
export function configFacts(config: Record<string, unknown> | null | undefined, fields: readonly FieldSpec[]): ConfigFact[] {
  const cfg = config ?? {};
  const known = new Map(fields.map((f) => [f.name, f]));
  const names = [...fields.map((f) => f.name).filter((n) => n in cfg), ...Object.keys(cfg).filter((n) => !known.has(n))];
  const out: ConfigFact[] = [];
  for (const name of names) {
    const raw = cfg[name];
    if (raw === null || raw === undefined || raw === "") continue;
    const field = known.get(name);
    const label = field?.label ?? labelOf(name);
    if (field?.kind === "secret") out.push({ name, label, value: HIDDEN });
    else if (typeof raw === "boolean") out.push({ name, label, value: raw });
    else if (Array.isArray(raw)) out.push({ name, label, value: raw.map(String).join(", ") });
    else if (typeof raw === "object") out.push({ name, label, value: JSON.stringify(raw) });
    else out.push({ name, label, value: String(raw) });
  }
  return out;
}
