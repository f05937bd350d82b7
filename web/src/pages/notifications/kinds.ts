/**
 * The enums of the notification API as runtime lists. Each list is the
 * keys of a `Record` over the generated union, so the compiler fails
 * when the server adds or removes a value and the list is not updated.
 */
import type { Schemas } from "../../api/client";

export type NotificationKind = Schemas["NotificationKind"];
export type Severity = Schemas["Severity"];
export type DeliveryStatus = Schemas["DeliveryStatus"];
export type EntityType = Schemas["EntityType"];

const KIND_SET: Record<NotificationKind, true> = {
  backup_completed: true,
  backup_failed: true,
  backup_skipped: true,
  restore_completed: true,
  restore_failed: true,
  verification_failed: true,
  connection_lost: true,
  connection_restored: true,
  storage_unreachable: true,
  cleanup_completed: true,
  plugin_failed: true,
};

/** Every notification kind, in the server's (documented) order. */
export const KINDS = Object.keys(KIND_SET) as NotificationKind[];

const SEVERITY_SET: Record<Severity, true> = { info: true, warning: true, critical: true };

/** Least to most severe: a channel's minimum takes those at or above it. */
export const SEVERITIES = Object.keys(SEVERITY_SET) as Severity[];

const DELIVERY_SET: Record<DeliveryStatus, true> = { pending: true, sending: true, delivered: true, failed: true, suppressed: true };

export const DELIVERY_STATUSES = Object.keys(DELIVERY_SET) as DeliveryStatus[];

/** Whether `value` is one of `list` (narrowing a `<select>`'s string). */
export function isOneOf<T extends string>(list: readonly T[], value: string): value is T {
  return (list as readonly string[]).includes(value);
}
