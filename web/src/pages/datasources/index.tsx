/** The datasources screens and their routes. */
import type { RouteObject } from "react-router";
import { DatasourceDetail } from "./DatasourceDetail";
import { DatasourceList } from "./DatasourceList";

export const datasourcesRoutes: RouteObject[] = [
  { path: "datasources", element: <DatasourceList /> },
  { path: "datasources/:id", element: <DatasourceDetail /> },
];
