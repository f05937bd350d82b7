/** The executions screens and their routes. */
import type { RouteObject } from "react-router";
import { ExecutionPage } from "./ExecutionPage";
import { ExecutionsPage } from "./ExecutionsPage";
import "./executions.css";

export const executionsRoutes: RouteObject[] = [
  { path: "executions", element: <ExecutionsPage /> },
  { path: "executions/:id", element: <ExecutionPage /> },
];
