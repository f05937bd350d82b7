/** The jobs screens and their routes. */
import type { RouteObject } from "react-router";
import { JobFormPage } from "./JobFormPage";
import { JobsPage } from "./JobsPage";

export const jobsRoutes: RouteObject[] = [
  { path: "jobs", element: <JobsPage /> },
  { path: "jobs/new", element: <JobFormPage /> },
  { path: "jobs/:id", element: <JobFormPage /> },
];
