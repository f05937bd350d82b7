/** The executions screens and their routes. */
import type { RouteObject } from "react-router";
import { useT } from "../../i18n";

function Placeholder() {
  const t = useT();
  return <h1>{t("nav.executions")}</h1>;
}

export const executionsRoutes: RouteObject[] = [{ path: "executions", element: <Placeholder /> }];
