/** Routes: the setup page, then everything else behind sign-in. */
import { createBrowserRouter, RouterProvider } from "react-router";
import { useMeQuery, MeContext } from "./auth";
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
  if (me.error) return <ErrorNote error={me.error} onRetry={() => me.refetch()} />;
  if (!me.data) return <SignIn expired={wasSignedIn.current} />;
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
      { path: "*", element: <NotFound /> },
    ],
  },
]);

export function App() {
  return <RouterProvider router={router} />;
}
