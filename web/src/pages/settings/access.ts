/**
 * Pure pieces of the access screens: the permission list, token expiry,
 * the audit log's filters, and a user change with only what changed.
 */
import type { Schemas } from "../../api/client";

export type Permission = Schemas["Permission"];

const PERMISSION_SET: Record<Permission, true> = {
  "datasources:read": true,
  "datasources:write": true,
  "storages:read": true,
  "storages:write": true,
  "storages:explore": true,
  "jobs:read": true,
  "jobs:write": true,
  "backups:run": true,
  "backups:download": true,
  "backups:restore": true,
  "executions:read": true,
  "executions:cancel": true,
  "executions:delete": true,
  "notifications:read": true,
  "notifications:write": true,
  "users:manage": true,
  "plugins:install": true,
  "settings:write": true,
  "audit:read": true,
  "metrics:read": true,
};

/**
 * Every permission, in the server's order. The keys of a `Record` over
 * the generated union: the compiler fails when the server's list changes.
 */
export const PERMISSIONS = Object.keys(PERMISSION_SET) as Permission[];

/** The most days a token's expiry is set ahead from this form (ten years). */
export const MAX_TOKEN_DAYS = 3650;

/**
 * A token's `expires_at` from a number of days: empty is "never"
 * (`undefined`); otherwise a whole number of days from `now`.
 */
export function expiryFromDays(text: string, now: Date = new Date()): { expiresAt?: string; error?: string } {
  const t = text.trim();
  if (t === "") return {};
  const n = Number(t);
  if (!Number.isInteger(n)) return { error: "whole number" };
  if (n < 1) return { error: "min:1" };
  if (n > MAX_TOKEN_DAYS) return { error: `max:${MAX_TOKEN_DAYS}` };
  return { expiresAt: new Date(now.getTime() + n * 86_400_000).toISOString() };
}

/**
 * A `datetime-local` input's value (the reader's wall clock, no zone) as
 * RFC 3339 in UTC, which the API wants; `undefined` when empty or invalid.
 */
export function localToRfc3339(local: string): string | undefined {
  if (local.trim() === "") return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export type AuditFilter = { actor: string; action: string; from: string; to: string };

export const NO_AUDIT_FILTER: AuditFilter = { actor: "", action: "", from: "", to: "" };

export type AuditQuery = { actor?: string; action?: string; from?: string; to?: string; page: number; limit: number };

export const AUDIT_PAGE_SIZE = 50;

/** The audit log's query: only the filters given, times in UTC. */
export function auditQuery(f: AuditFilter, page: number): AuditQuery {
  const q: AuditQuery = { page, limit: AUDIT_PAGE_SIZE };
  if (f.actor.trim()) q.actor = f.actor.trim();
  if (f.action.trim()) q.action = f.action.trim();
  const from = localToRfc3339(f.from);
  const to = localToRfc3339(f.to);
  if (from) q.from = from;
  if (to) q.to = to;
  return q;
}

export type UserChange = Schemas["UserChange"];

/** A user edit as the API takes it: only the fields that changed (a new password only when typed). */
export function userChange(
  user: { username: string; role: string },
  form: { username: string; role: string; password: string },
): UserChange {
  const change: UserChange = {};
  if (form.username.trim() !== user.username) change.username = form.username.trim();
  if (form.role !== user.role) change.role = form.role;
  if (form.password !== "") change.password = form.password;
  return change;
}

/** The permissions a reader may hand out: theirs, in the server's order. */
export function grantable(own: readonly Permission[]): Permission[] {
  return PERMISSIONS.filter((p) => own.includes(p));
}
