/**
 * The general settings form. `GET /api/system/settings` answers one
 * object of key → any JSON value; each key gets an input typed by its
 * value (a checkbox for a boolean, a number input for a number, text for
 * a string, JSON text for anything else), and Save sends only the keys
 * whose value changed (`PUT` merges).
 *
 * Error values are the codes `useFieldMessage` translates, plus `json`
 * (not valid JSON) and `key` (not a valid key).
 */

export type SettingKind = "boolean" | "number" | "text" | "json";
export type SettingField = { key: string; kind: SettingKind };
export type SettingValues = Record<string, string | boolean>;

export function kindOfValue(v: unknown): SettingKind {
  if (typeof v === "boolean") return "boolean";
  if (typeof v === "number") return "number";
  if (typeof v === "string") return "text";
  return "json";
}

/** One field per key, by key. */
export function settingFields(settings: Record<string, unknown>): SettingField[] {
  return Object.keys(settings)
    .sort()
    .map((key) => ({ key, kind: kindOfValue(settings[key]) }));
}

/** What the inputs start with. */
export function settingValues(settings: Record<string, unknown>): SettingValues {
  const out: SettingValues = {};
  for (const { key, kind } of settingFields(settings)) {
    const v = settings[key];
    if (kind === "boolean") out[key] = v === true;
    else if (kind === "json") out[key] = JSON.stringify(v, null, 2);
    else out[key] = String(v);
  }
  return out;
}

/** An input's value as the JSON it stands for, or the error code. */
function parse(kind: SettingKind, raw: string | boolean | undefined): { value?: unknown; error?: string } {
  if (kind === "boolean") return { value: raw === true };
  const text = typeof raw === "string" ? raw : "";
  if (kind === "text") return { value: text };
  if (kind === "number") {
    if (text.trim() === "") return { error: "required" };
    const n = Number(text);
    return Number.isFinite(n) ? { value: n } : { error: "number" };
  }
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { error: "json" };
  }
}

/** Same JSON value (object key order ignored). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const rb = b as Record<string, unknown>;
  const ra = a as Record<string, unknown>;
  return ka.length === kb.length && ka.every((k) => k in rb && sameJson(ra[k], rb[k]));
}

/** The keys whose value changed, with their new values; or the errors, by key. */
export function changedSettings(
  settings: Record<string, unknown>,
  values: SettingValues,
): { changes: Record<string, unknown>; errors: Record<string, string> } {
  const changes: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const { key, kind } of settingFields(settings)) {
    const { value, error } = parse(kind, values[key]);
    if (error) errors[key] = error;
    else if (!sameJson(value, settings[key])) changes[key] = value;
  }
  return { changes, errors };
}

/** What the server accepts as a key: lowercase letters, digits, `_` and `.`, at most 100. */
export function validKey(key: string): boolean {
  return /^[a-z0-9_.]{1,100}$/.test(key);
}

/**
 * A new setting's value: JSON when the text is JSON (`true`, `42`,
 * `{"a": 1}`, `"quoted"`), else the text itself, so a plain word needs
 * no quotes.
 */
export function newSettingValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A new setting: its key checked and its value read; `undefined` when both are left empty. */
export function newSetting(
  key: string,
  text: string,
  existing: Record<string, unknown>,
): { entry?: [string, unknown]; error?: string } {
  const k = key.trim();
  if (k === "" && text.trim() === "") return {};
  if (!validKey(k)) return { error: "key" };
  if (k in existing) return { error: "exists" };
  return { entry: [k, newSettingValue(text)] };
}
