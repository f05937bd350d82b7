import type { ReactNode } from "react";
import { useCan, type Permission } from "../auth";
import { useT } from "../i18n";

/** A screen's content, or why the reader may not see it (for an address typed or kept from another role). */
export function Needs({ permission, children }: { permission: Permission; children: ReactNode }) {
  const t = useT();
  const can = useCan();
  return can(permission) ? <>{children}</> : <p className="note">{t("common.forbidden", { permission })}</p>;
}
