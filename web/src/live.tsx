/**
 * Live updates: one event stream per signed-in tab. Events refresh the
 * queries that show what changed (so lists update without polling);
 * progress events are kept in the query cache under the execution's id
 * for the progress bars.
 */
import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useState } from "react";
import { LiveEvents, type LiveEvent } from "./api/events";
import { ME_KEY } from "./auth";

export type Progress = {
  execution_id: string;
  operation?: string;
  bytes?: number;
  bytes_per_second?: number;
  average_bytes_per_second?: number;
  elapsed_seconds?: number;
  total_bytes?: number | null;
  percent?: number | null;
  eta_seconds?: number | null;
  phase?: string | null;
};

export const progressKey = (id: string) => ["progress", id] as const;

/** Which cached queries an event makes stale. */
export function keysFor(event: LiveEvent): string[][] {
  switch (event.kind) {
    case "execution_status":
      return [["executions"], ["execution", String(event.data.execution_id)], ["dashboard"], ["backups"], ["jobs"]];
    case "datasource_status":
      return [["datasources"], ["datasource", String(event.data.datasource_id)], ["dashboard"]];
    case "storage_status":
      return [["storages"], ["dashboard"]];
    case "notification":
      return [["notifications"], ["dashboard"]];
    default:
      return [];
  }
}

function apply(client: QueryClient, event: LiveEvent) {
  if (event.kind === "execution_progress") {
    const p = event.data as unknown as Progress;
    client.setQueryData(progressKey(p.execution_id), p);
    return;
  }
  for (const key of keysFor(event)) client.invalidateQueries({ queryKey: key });
}

const Connected = createContext(false);
export const useLiveConnected = () => useContext(Connected);

export function LiveUpdates({ children }: { children: React.ReactNode }) {
  const client = useQueryClient();
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    const live = new LiveEvents({
      onEvent: (e) => apply(client, e),
      onResync: () => client.invalidateQueries(),
      onState: setConnected,
      // A refused stream may mean the session ended (revoked, expired,
      // signed out in another tab): asking who is signed in finds out, and
      // a 401 there shows the sign-in form instead of stale data.
      onGaveUp: () => void client.refetchQueries({ queryKey: ME_KEY }),
    });
    live.start();
    return () => live.stop();
  }, [client]);
  return <Connected.Provider value={connected}>{children}</Connected.Provider>;
}
