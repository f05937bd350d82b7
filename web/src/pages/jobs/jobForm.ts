/**
 * The job form as data: what the inputs hold (all text, as inputs do),
 * how a stored job fills them, the client-side checks, and the request
 * bodies for `POST /api/backup-jobs` and `PUT /api/backup-jobs/{id}`.
 * Kept free of React so the mapping (the part that can silently send the
 * wrong thing) is tested on its own.
 */
import type { Schemas } from "../../api/client";
import { ApiFailure, placeFailure } from "../../api/errors";

export type Job = Schemas["JobView"];
export type Strategy = Schemas["StorageStrategy"];
export const STRATEGIES: readonly Strategy[] = ["replicate", "fallback"];
export const COMPRESSIONS = ["none", "gzip", "zstd", "lz4"] as const;

/** Which databases a run backs up: the one the datasource connects to, all of the server's, or a list. */
export type DatabasesMode = "own" | "all" | "list";

export type JobFormValues = {
  name: string;
  datasourceId: string;
  /** The primary storage (the first of `storage_location_ids`). */
  storageId: string;
  /** Further storages, in the order the job lists them. */
  extraStorageIds: string[];
  strategy: Strategy;
  scheduleCron: string;
  scheduleTimezone: string;
  enabled: boolean;
  maxBackups: string;
  keepDaily: string;
  keepWeekly: string;
  keepMonthly: string;
  autoDelete: boolean;
  compression: string;
  compressionLevel: string;
  databasesMode: DatabasesMode;
  /** One name or glob pattern a line (commas also separate). */
  databases: string;
  excludeDatabases: string;
  /**
   * Backup options this form does not show (`max_file_size_mb`, the files
   * engine's `include`/`exclude`), sent back as they were: the server
   * replaces the whole `backup_options` object on an update.
   */
  otherOptions: Record<string, unknown>;
};

/** The names the server gives to fields (`ErrorDetail.field`), which are also the keys of the form's errors. */
export const FIELDS = {
  name: "name",
  datasource: "datasource_id",
  storage: "storage_location_id",
  extraStorages: "storage_location_ids",
  strategy: "storage_strategy",
  cron: "schedule_cron",
  timezone: "schedule_timezone",
  enabled: "enabled",
  maxBackups: "retention_policy.max_backups",
  keepDaily: "retention_policy.keep_daily",
  keepWeekly: "retention_policy.keep_weekly",
  keepMonthly: "retention_policy.keep_monthly",
  retention: "retention_policy",
  compression: "backup_options.compression",
  compressionLevel: "backup_options.compression_level",
  databases: "backup_options.databases",
  excludeDatabases: "backup_options.exclude_databases",
  options: "backup_options",
} as const;

const KNOWN_FIELDS: readonly string[] = Object.values(FIELDS);

/** A new job: the default storage, today's browser zone, enabled, zstd. */
export function emptyForm(timezone: string, defaultStorageId = ""): JobFormValues {
  return {
    name: "",
    datasourceId: "",
    storageId: defaultStorageId,
    extraStorageIds: [],
    // The extra storages are offered as "Also store in…", which is what replicate does.
    strategy: "replicate",
    scheduleCron: "",
    scheduleTimezone: timezone,
    enabled: true,
    maxBackups: "",
    keepDaily: "",
    keepWeekly: "",
    keepMonthly: "",
    autoDelete: false,
    compression: "zstd",
    compressionLevel: "",
    databasesMode: "own",
    databases: "",
    excludeDatabases: "",
    otherOptions: {},
  };
}

const num = (n: number | null | undefined): string => (n === null || n === undefined ? "" : String(n));

/** The stored job in the form's terms. */
export function formFromJob(job: Job): JobFormValues {
  const ids = job.storage_location_ids.length > 0 ? job.storage_location_ids : [job.storage_location_id];
  const r = job.retention_policy;
  // The OpenAPI document types the options as a free object; read them as such.
  const { compression, compression_level, databases, exclude_databases, ...otherOptions } = (job.backup_options ?? {}) as Record<string, unknown>;
  const selection = databases === "*" ? "all" : Array.isArray(databases) ? "list" : "own";
  return {
    name: job.name,
    datasourceId: job.datasource_id,
    storageId: ids[0],
    extraStorageIds: ids.slice(1),
    strategy: job.storage_strategy,
    scheduleCron: job.schedule_cron,
    scheduleTimezone: job.schedule_timezone,
    enabled: job.enabled,
    maxBackups: num(r.max_backups),
    keepDaily: num(r.keep_daily),
    keepWeekly: num(r.keep_weekly),
    keepMonthly: num(r.keep_monthly),
    autoDelete: r.auto_delete ?? false,
    compression: typeof compression === "string" ? compression : "zstd",
    compressionLevel: typeof compression_level === "number" ? String(compression_level) : "",
    databasesMode: selection,
    databases: Array.isArray(databases) ? databases.map(String).join("\n") : "",
    excludeDatabases: Array.isArray(exclude_databases) ? exclude_databases.map(String).join("\n") : "",
    otherOptions,
  };
}

/** Switching the primary storage drops it from the extras (a storage is listed once). */
export function withPrimary(values: JobFormValues, storageId: string): JobFormValues {
  return { ...values, storageId, extraStorageIds: values.extraStorageIds.filter((id) => id !== storageId) };
}

export function withExtra(values: JobFormValues, storageId: string, on: boolean): JobFormValues {
  const rest = values.extraStorageIds.filter((id) => id !== storageId);
  return { ...values, extraStorageIds: on ? [...rest, storageId] : rest };
}

/** Names and patterns, one a line or separated by commas. */
export function splitList(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

type Whole = { value?: number; error?: string };

/** "" → absent; otherwise a whole number of at least `min` (the codes `useFieldMessage` reads). */
function whole(text: string, min: number): Whole {
  const s = text.trim();
  if (s === "") return {};
  if (!/^-?\d+$/.test(s)) return { error: "whole number" };
  const n = Number(s);
  if (n < min) return { error: `min:${min}` };
  return { value: n };
}

export type RetentionPolicy = Schemas["RetentionPolicy"];

/** What the form's retention inputs mean, with absent numbers left out (they mean "no rule"). */
export function toRetention(values: JobFormValues): RetentionPolicy {
  const policy: RetentionPolicy = { auto_delete: values.autoDelete };
  const max = whole(values.maxBackups, 1).value;
  const daily = whole(values.keepDaily, 0).value;
  const weekly = whole(values.keepWeekly, 0).value;
  const monthly = whole(values.keepMonthly, 0).value;
  if (max !== undefined) policy.max_backups = max;
  if (daily !== undefined) policy.keep_daily = daily;
  if (weekly !== undefined) policy.keep_weekly = weekly;
  if (monthly !== undefined) policy.keep_monthly = monthly;
  return policy;
}

/** `backup_options` as the server reads them (`databases` is `"*"` or a list). */
export type BackupOptionsBody = Record<string, unknown> & {
  compression?: string;
  compression_level?: number;
  databases?: "*" | string[];
  exclude_databases?: string[];
};

/** Compression levels apply to gzip and zstd only. */
export function hasLevel(compression: string): boolean {
  return compression === "gzip" || compression === "zstd";
}

export function toBackupOptions(values: JobFormValues): BackupOptionsBody {
  const options: BackupOptionsBody = { ...values.otherOptions, compression: values.compression };
  const level = whole(values.compressionLevel, 1).value;
  if (level !== undefined && hasLevel(values.compression)) options.compression_level = level;
  if (values.databasesMode === "all") options.databases = "*";
  if (values.databasesMode === "list") options.databases = splitList(values.databases);
  if (values.databasesMode !== "own") {
    const exclude = splitList(values.excludeDatabases);
    if (exclude.length > 0) options.exclude_databases = exclude;
  }
  return options;
}

/** The client-side checks, keyed by server field name; values are `useFieldMessage` codes. */
export function checkForm(values: JobFormValues): Record<string, string> {
  const errors: Record<string, string> = {};
  if (values.name.trim() === "") errors[FIELDS.name] = "required";
  if (values.datasourceId === "") errors[FIELDS.datasource] = "required";
  if (values.storageId === "") errors[FIELDS.storage] = "required";
  if (values.scheduleCron.trim() === "") errors[FIELDS.cron] = "required";
  if (values.scheduleTimezone === "") errors[FIELDS.timezone] = "required";
  Object.assign(errors, checkRetention(values));
  const level = whole(values.compressionLevel, 1).error;
  if (level && hasLevel(values.compression)) errors[FIELDS.compressionLevel] = level;
  if (values.databasesMode === "list" && splitList(values.databases).length === 0) errors[FIELDS.databases] = "required";
  return errors;
}

/** The retention inputs alone (the dry run sends only these). */
export function checkRetention(values: JobFormValues): Record<string, string> {
  const errors: Record<string, string> = {};
  const checks: [string, string, number][] = [
    [FIELDS.maxBackups, values.maxBackups, 1],
    [FIELDS.keepDaily, values.keepDaily, 0],
    [FIELDS.keepWeekly, values.keepWeekly, 0],
    [FIELDS.keepMonthly, values.keepMonthly, 0],
  ];
  for (const [field, text, min] of checks) {
    const error = whole(text, min).error;
    if (error) errors[field] = error;
  }
  return errors;
}

/** The body of both create and update: every field, so an update says exactly what the form shows. */
export type JobBody = {
  name: string;
  datasource_id: string;
  storage_location_ids: string[];
  storage_strategy: Strategy;
  schedule_cron: string;
  schedule_timezone: string;
  enabled: boolean;
  retention_policy: RetentionPolicy;
  backup_options: BackupOptionsBody;
};

export function toBody(values: JobFormValues): JobBody {
  return {
    name: values.name.trim(),
    datasource_id: values.datasourceId,
    storage_location_ids: [values.storageId, ...values.extraStorageIds.filter((id) => id !== values.storageId)],
    storage_strategy: values.strategy,
    schedule_cron: values.scheduleCron.trim(),
    schedule_timezone: values.scheduleTimezone,
    enabled: values.enabled,
    retention_policy: toRetention(values),
    backup_options: toBackupOptions(values),
  };
}

/**
 * The form field a server field name belongs to. The server names list
 * entries (`storage_location_ids[1]`, `backup_options.databases[0]`) and,
 * for the "at least one keep rule" check, several fields at once
 * (`retention_policy.keep_daily/keep_weekly/keep_monthly`).
 */
export function formField(field: string): string {
  const index = /^(.*)\[(\d+)\]$/.exec(field);
  if (index) {
    if (index[1] === FIELDS.extraStorages) return index[2] === "0" ? FIELDS.storage : FIELDS.extraStorages;
    return index[1];
  }
  if (field.includes("/")) return field.split("/")[0];
  // An empty list is the primary storage's problem: there is no primary.
  if (field === FIELDS.extraStorages) return FIELDS.storage;
  return field;
}

/** A save's or dry run's failure: under the input it names, else above the form. */
export function placeJobFailure(failure: unknown): { fields: Record<string, string>; general?: string } {
  if (failure instanceof ApiFailure && failure.field) {
    const moved = new ApiFailure(failure.status, failure.code, failure.message, formField(failure.field));
    return placeFailure(moved, KNOWN_FIELDS);
  }
  return placeFailure(failure, KNOWN_FIELDS);
}

/**
 * The server field names each input answers for: editing the input drops
 * a save's message under these (the message was about what was typed
 * before). The retention numbers share the "at least one keep rule" check,
 * so editing one of them drops the messages of all of them.
 */
const RETENTION_NUMBERS = [FIELDS.maxBackups, FIELDS.keepDaily, FIELDS.keepWeekly, FIELDS.keepMonthly, FIELDS.retention];
const ANSWERS_FOR: Record<keyof JobFormValues, readonly string[]> = {
  name: [FIELDS.name],
  datasourceId: [FIELDS.datasource],
  storageId: [FIELDS.storage, FIELDS.extraStorages],
  extraStorageIds: [FIELDS.extraStorages, FIELDS.strategy],
  strategy: [FIELDS.strategy],
  scheduleCron: [FIELDS.cron],
  scheduleTimezone: [FIELDS.timezone],
  enabled: [FIELDS.enabled],
  maxBackups: RETENTION_NUMBERS,
  keepDaily: RETENTION_NUMBERS,
  keepWeekly: RETENTION_NUMBERS,
  keepMonthly: RETENTION_NUMBERS,
  autoDelete: [FIELDS.retention],
  compression: [FIELDS.compression, FIELDS.compressionLevel, FIELDS.options],
  compressionLevel: [FIELDS.compressionLevel, FIELDS.options],
  databasesMode: [FIELDS.databases, FIELDS.excludeDatabases, FIELDS.options],
  databases: [FIELDS.databases, FIELDS.options],
  excludeDatabases: [FIELDS.excludeDatabases, FIELDS.options],
  otherOptions: [FIELDS.options],
};

/** The server field names whose inputs differ between `before` and `after`. */
export function editedFields(before: JobFormValues, after: JobFormValues): string[] {
  const fields = new Set<string>();
  for (const key of Object.keys(ANSWERS_FOR) as (keyof JobFormValues)[]) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) for (const f of ANSWERS_FOR[key]) fields.add(f);
  }
  return [...fields];
}

/** `errors` without the messages of `fields` (the same object when none of them had one). */
export function withoutFields(errors: Record<string, string>, fields: readonly string[]): Record<string, string> {
  if (!fields.some((f) => f in errors)) return errors;
  const rest = { ...errors };
  for (const f of fields) delete rest[f];
  return rest;
}
