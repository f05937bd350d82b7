/** The dashboard screen (the index route). */
import type { RouteObject } from "react-router";
import { Dashboard } from "./Dashboard";
import "./dashboard.css";

export const dashboardRoutes: RouteObject[] = [{ index: true, element: <Dashboard /> }];
