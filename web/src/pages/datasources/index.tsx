/** The datasources screens and their routes. */
import type { RouteObject } from "react-router";
import { useT } from "../../i18n";

function Placeholder() {
  const t = useT();
  return <h1>{t("nav.datasources")}</h1>;
}

export const datasourcesRoutes: RouteObject[] = [{ path: "datasources", element: <Placeholder /> }];
