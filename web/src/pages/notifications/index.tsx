/** The notifications screens and their routes. */
import type { RouteObject } from "react-router";
import { useT } from "../../i18n";

function Placeholder() {
  const t = useT();
  return <h1>{t("nav.notifications")}</h1>;
}

export const notificationsRoutes: RouteObject[] = [{ path: "notifications", element: <Placeholder /> }];
