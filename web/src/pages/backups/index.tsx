/** The backups screens and their routes. */
import type { RouteObject } from "react-router";
import { useT } from "../../i18n";

function Placeholder() {
  const t = useT();
  return <h1>{t("nav.backups")}</h1>;
}

export const backupsRoutes: RouteObject[] = [{ path: "backups", element: <Placeholder /> }];
