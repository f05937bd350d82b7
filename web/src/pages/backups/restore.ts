/**
 * The restore dialog's logic, apart from React so it can be tested: which
 * copies and targets it offers, what it sends to
 * `POST /api/backups/{execution_id}/restore`, and what the person must
 * confirm before a restore writes into a live database.
 *
 * A restore that is not a verification writes the backup's objects into a
 * real database, so the dialog asks the person to confirm the exact target
 * (database and datasource, by name) and forgets that confirmation as soon
 * as the target changes: a tick given for one database never covers
 * another.
 */
import type { Schemas } from "../../api/client";
import type { Translate } from "../../i18n";

export type Backup = Schemas["BackupEntry"];
export type Copy = Schemas["Copy"];
export type RestoreRequest = Schemas["RestoreRequest"];
export type ExecutionStatus = Schemas["ExecutionStatus"];

/** The server's bound on `jobs` (`pipeline::MAX_JOBS`, docs/API.md). */
export const MAX_JOBS = 64;

/** What the dialog's inputs hold. */
export type RestoreForm = {
  /** Storage to read from (a `storage_location_id`). */
  storageId: string;
  /** Datasource to restore into. */
  targetId: string;
  /** For a backup of several databases: which one to restore. */
  database: string;
  /** Database of the target server to restore into; empty = the datasource's own. */
  targetDatabase: string;
  verification: boolean;
  /** Parallel jobs as typed: empty, a whole number or `auto`. */
  jobs: string;
  dropExisting: boolean;
  /** The person confirmed writing into the target named in the confirmation. */
  confirmed: boolean;
};

/** The fields whose change makes a given confirmation stale: they decide what is written where. */
const TARGET_FIELDS: readonly (keyof RestoreForm)[] = ["targetId", "targetDatabase", "database", "verification", "dropExisting"];

/** The statuses after which an execution no longer changes. */
export function isFinished(status: ExecutionStatus | null | undefined): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}

/**
 * The copies a restore can read: those whose storage still exists and
 * that were not found missing or unreachable just now. (`unknown` stays:
 * the listing could not tell, the restore will.)
 */
export function readableCopies(backup: Backup): Copy[] {
  return backup.copies.filter((c) => c.storage_name !== "" && (c.availability === "available" || c.availability === "unknown"));
}

/** Whether a backup can be restored at all (some copy can be read). */
export function isRestorable(backup: Backup): boolean {
  return readableCopies(backup).length > 0;
}

function metadataOf(backup: Backup): Record<string, unknown> {
  const m: unknown = backup.metadata;
  return m && typeof m === "object" ? (m as Record<string, unknown>) : {};
}

/**
 * For a backup of several databases (`metadata.databases`), the names of
 * those that were backed up; null for a backup of one database, where the
 * server refuses `database`.
 */
export function storedDatabases(backup: Backup): string[] | null {
  const list = metadataOf(backup).databases;
  if (!Array.isArray(list)) return null;
  const names: string[] = [];
  for (const d of list) {
    if (!d || typeof d !== "object") continue;
    const { name, status } = d as { name?: unknown; status?: unknown };
    if (typeof name === "string" && status === "completed") names.push(name);
  }
  return names;
}

/** The engine that made the backup (`metadata.datasource_type`), when recorded. */
export function backupType(backup: Backup): string | undefined {
  const t = metadataOf(backup).datasource_type;
  return typeof t === "string" && t !== "" ? t : undefined;
}

/** The database a datasource's configuration names (`connection_config.database`), if any. */
export function configuredDatabase(datasource: { connection_config: unknown } | undefined): string | undefined {
  const config = datasource?.connection_config;
  if (!config || typeof config !== "object") return undefined;
  const db = (config as Record<string, unknown>).database;
  return typeof db === "string" && db !== "" ? db : undefined;
}

export type TargetOption = { id: string; name: string; database?: string };

/**
 * The datasources a backup can be restored into: those of the engine that
 * made it (the server refuses the others), by name, with the backup's own
 * always there even when the list could not be read.
 */
export function targetOptions(
  datasources: readonly { id: string; name: string; type: string; connection_config: unknown }[] | undefined,
  own: { id: string; name: string },
  type: string | undefined,
): TargetOption[] {
  const all = datasources ?? [];
  const ownType = type ?? all.find((d) => d.id === own.id)?.type;
  const out: TargetOption[] = all
    .filter((d) => ownType === undefined || d.type === ownType)
    .map((d) => ({ id: d.id, name: d.name, database: configuredDatabase(d) }));
  if (!out.some((o) => o.id === own.id)) out.push({ id: own.id, name: own.name });
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The form as the dialog opens: the first readable copy, the backup's own
 * datasource, verification mode on (it touches no live data, so it is the
 * safe default), nothing confirmed.
 */
export function initialForm(backup: Backup, ownDatasourceId: string): RestoreForm {
  const databases = storedDatabases(backup);
  return {
    storageId: readableCopies(backup)[0]?.storage_location_id ?? "",
    targetId: backup.datasource_id ?? ownDatasourceId,
    database: databases?.[0] ?? "",
    targetDatabase: "",
    verification: true,
    jobs: "",
    dropExisting: false,
    confirmed: false,
  };
}

/** `form` with `patch` applied; a change of target withdraws the confirmation. */
export function updateForm(form: RestoreForm, patch: Partial<RestoreForm>): RestoreForm {
  const next = { ...form, ...patch };
  if (TARGET_FIELDS.some((k) => k in patch && patch[k] !== form[k])) next.confirmed = false;
  return next;
}

/** A restore that writes into a datasource needs the person's confirmation; a verification does not. */
export function needsConfirmation(form: RestoreForm): boolean {
  return !form.verification;
}

/** Whether `Start restore` may be pressed. */
export function canStart(form: RestoreForm): boolean {
  return form.targetId !== "" && (!needsConfirmation(form) || form.confirmed);
}

/**
 * The database a real restore writes into, as the confirmation names it:
 * the one typed, else the target datasource's configured one; undefined
 * when neither is known.
 */
export function targetDatabaseName(form: RestoreForm, target: TargetOption | undefined): string | undefined {
  const typed = form.targetDatabase.trim();
  return typed !== "" ? typed : target?.database;
}

/**
 * The confirmation's label. It names the database and the datasource, so
 * the person confirms the target itself, not "a restore". (Its wording
 * avoids the words of the other fields' labels, which tests find the
 * inputs by.)
 */
export function confirmationText(t: Translate, form: RestoreForm, target: TargetOption | undefined): string {
  const database = targetDatabaseName(form, target);
  const datasource = target?.name ?? "";
  const base = database === undefined ? t("backups.confirmOwn", { datasource }) : t("backups.confirmInto", { database, datasource });
  return form.dropExisting ? `${base} ${t("backups.confirmDrop")}` : base;
}

/** `jobs` as the server takes it: omitted when empty, `auto`, or a whole number from 1 to 64; else an error code for `useFieldMessage`. */
export function parseJobs(text: string): { jobs?: number | "auto"; error?: string } {
  const v = text.trim().toLowerCase();
  if (v === "") return {};
  if (v === "auto") return { jobs: "auto" };
  if (!/^\d+$/.test(v)) return { error: "whole number" };
  const n = Number(v);
  if (n < 1) return { error: "min:1" };
  if (n > MAX_JOBS) return { error: `max:${MAX_JOBS}` };
  return { jobs: n };
}

export type BuiltRequest = { request?: RestoreRequest; errors: Record<string, string> };

/**
 * The request body, or the errors to show under the fields (keyed by the
 * request's field names, as the server's failures are). Empty optional
 * fields are left out so the server applies its defaults; the target
 * database and dropping objects do not apply to a verification (the
 * server refuses `target_database` there).
 */
export function buildRestoreRequest(form: RestoreForm, backup: Backup): BuiltRequest {
  const errors: Record<string, string> = {};
  const request: RestoreRequest = {
    target_datasource_id: form.targetId,
    verification_mode: form.verification,
    confirm_overwrite: !form.verification && form.confirmed,
    drop_existing: !form.verification && form.dropExisting,
  };
  if (form.storageId !== "") request.storage_location_id = form.storageId;
  if (storedDatabases(backup) !== null) {
    if (form.database === "") errors.database = "required";
    else request.database = form.database;
  }
  const targetDatabase = form.targetDatabase.trim();
  if (!form.verification && targetDatabase !== "") request.target_database = targetDatabase;
  const jobs = parseJobs(form.jobs);
  if (jobs.error) errors.jobs = jobs.error;
  else if (jobs.jobs !== undefined) request.jobs = jobs.jobs;
  if (needsConfirmation(form) && !form.confirmed) errors.confirm_overwrite = "required";
  return Object.keys(errors).length > 0 ? { errors } : { request, errors };
}

/** The request fields the dialog shows an input for (where `placeFailure` puts the server's message). */
export const RESTORE_FIELDS = ["storage_location_id", "target_datasource_id", "database", "target_database", "jobs", "confirm_overwrite"] as const;

export type ProgressLike = {
  bytes?: number;
  total_bytes?: number | null;
  percent?: number | null;
  bytes_per_second?: number;
  eta_seconds?: number | null;
  phase?: string | null;
};

/**
 * What the progress bar shows: a value out of 100 when the share is known
 * (from the server's `percent`, else bytes of the total), full once the
 * execution completed, else no value (an indeterminate bar).
 */
export function progressValue(status: ExecutionStatus | undefined, progress: ProgressLike | null | undefined): number | undefined {
  if (status === "completed") return 100;
  if (!progress) return undefined;
  if (typeof progress.percent === "number" && Number.isFinite(progress.percent)) return Math.min(100, Math.max(0, progress.percent));
  if (progress.total_bytes && progress.bytes !== undefined) return Math.min(100, (progress.bytes / progress.total_bytes) * 100);
  return undefined;
}
