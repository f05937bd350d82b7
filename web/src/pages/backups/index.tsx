/** The backups screens and their routes: datasources with backups, then one datasource's backups. */
import type { RouteObject } from "react-router";
import { BackupsList } from "./BackupsList";
import { DatasourceBackupsPage } from "./DatasourceBackupsPage";
import "./backups.css";

export const backupsRoutes: RouteObject[] = [
  { path: "backups", element: <BackupsList /> },
  { path: "backups/:datasourceId", element: <DatasourceBackupsPage /> },
];
