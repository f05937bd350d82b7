/** The storages screens and their routes. */
import type { RouteObject } from "react-router";
import { useT } from "../../i18n";

function Placeholder() {
  const t = useT();
  return <h1>{t("nav.storages")}</h1>;
}

export const storagesRoutes: RouteObject[] = [{ path: "storages", element: <Placeholder /> }];
