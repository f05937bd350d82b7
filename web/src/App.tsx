/** Routes: the setup page, then everything else behind sign-in. */
import { createBrowserRouter, Navigate, RouterProvider } from "react-router";
import { useMeQuery, MeContext, signedOutOnPurpose } from "./auth";
import { Layout } from "./components/Layout";
import { ErrorNote, Loading } from "./components/State";
import { LiveUpdates } from "./live";
import { Setup } from "./pages/Setup";
import { SignIn } from "./pages/SignIn";
import { NotFound } from "./pages/NotFound";
import { dashboardRoutes } from "./pages/dashboard";
import { datasourcesRoutes } from "./pages/datasources";
import { storagesRoutes } from "./pages/storages";
import { jobsRoutes } from "./pages/jobs";
import { executionsRoutes } from "./pages/executions";
import { backupsRoutes } from "./pages/backups";
import { notificationsRoutes } from "./pages/notifications";
import { settingsRoutes } from "./pages/settings";
import { useRef } from "react";

/** Signed in: the app; not signed in: the sign-in form (at whatever address was asked for). */
function Shell() {
  const me = useMeQuery();
  const wasSignedIn = useRef(false);
  if (me.isPending) return <Loading />;
  // A failed refresh (server down) keeps the app on screen; only a first
  // answer that never came is an error page.
  if (me.data === undefined) return <ErrorNote error={me.error} onRetry={() => me.refetch()} />;
  if (!me.data) return <SignIn expired={wasSignedIn.current && !signedOutOnPurpose()} />;
  wasSignedIn.current = true;
  return (
    <MeContext.Provider value={me.data}>
      <LiveUpdates>
        <Layout />
      </LiveUpdates>
    </MeContext.Provider>
  );
}

const router = createBrowserRouter([
  { path: "/setup", element: <Setup /> },
  {
    path: "/",
    element: <Shell />,
    children: [
      ...dashboardRoutes,
      ...datasourcesRoutes,
      ...storagesRoutes,
      ...jobsRoutes,
      ...executionsRoutes,
      ...backupsRoutes,
      ...notificationsRoutes,
      ...settingsRoutes,
      // Sign-in happens at whatever address was asked for; a bookmarked
      // /login lands on the dashboard once signed in.
      { path: "login", element: <Navigate to="/" replace /> },
      { path: "*", element: <NotFound /> },
    ],
  },
]);

export function App() {
  return <RouterProvider router={router} />;
}
