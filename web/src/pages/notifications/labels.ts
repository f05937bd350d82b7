/** The notification enums in the reader's language (the API's values are identifiers). */
import type { Translate } from "../../i18n";
import type { DeliveryStatus, EntityType, NotificationKind, Severity } from "./kinds";

export const kindLabel = (t: Translate, kind: NotificationKind) => t(`notifications.kind.${kind}` as const);

export const severityLabel = (t: Translate, severity: Severity) => t(`notifications.severity.${severity}` as const);

export const entityLabel = (t: Translate, type: EntityType) => t(`notifications.entity.${type}` as const);

export const deliveryLabel = (t: Translate, status: DeliveryStatus) => t(`notifications.delivery.${status}` as const);
