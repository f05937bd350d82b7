/** The notification enums in the reader's language (the API's values are identifiers). */
import type { Translate } from "../../i18n";
import type { DeliveryStatus, EntityType, NotificationKind, Severity } from "./kinds";
import type { Tone } from "./shared";

export const kindLabel = (t: Translate, kind: NotificationKind) => t(`notifications.kind.${kind}` as const);

export const severityLabel = (t: Translate, severity: Severity) => t(`notifications.severity.${severity}` as const);

export const entityLabel = (t: Translate, type: EntityType) => t(`notifications.entity.${type}` as const);

export const deliveryLabel = (t: Translate, status: DeliveryStatus) => t(`notifications.delivery.${status}` as const);

export const SEVERITY_TONE: Record<Severity, Tone> = { info: "muted", warning: "warn", critical: "bad" };

export const DELIVERY_TONE: Record<DeliveryStatus, Tone> = {
  pending: "busy",
  sending: "busy",
  delivered: "good",
  failed: "bad",
  suppressed: "muted",
};
