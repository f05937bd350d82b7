/** The storages screens and their routes. */
import type { RouteObject } from "react-router";
import { StorageDetail } from "./StorageDetail";
import { StorageList } from "./StorageList";

export const storagesRoutes: RouteObject[] = [
  { path: "storages", element: <StorageList /> },
  { path: "storages/:id", element: <StorageDetail /> },
];
