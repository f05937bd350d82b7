/** The dashboard screens and their routes. */
import type { RouteObject } from "react-router";
import { useT } from "../../i18n";

function Placeholder() {
  const t = useT();
  return <h1>{t("nav.dashboard")}</h1>;
}

export const dashboardRoutes: RouteObject[] = [{ index: true, element: <Placeholder /> }];
