/** The settings screens and their routes. */
import type { RouteObject } from "react-router";
import { useT } from "../../i18n";

function Placeholder() {
  const t = useT();
  return <h1>{t("nav.settings")}</h1>;
}

export const settingsRoutes: RouteObject[] = [{ path: "settings", element: <Placeholder /> }];
