/** The jobs screens and their routes. */
import type { RouteObject } from "react-router";
import { useT } from "../../i18n";

function Placeholder() {
  const t = useT();
  return <h1>{t("nav.jobs")}</h1>;
}

export const jobsRoutes: RouteObject[] = [{ path: "jobs", element: <Placeholder /> }];
