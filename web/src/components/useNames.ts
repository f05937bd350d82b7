/** Names for ids, from the lists the reader may see (`lib/names.ts`). */
import { useQuery } from "@tanstack/react-query";
import { api, ok } from "../api/client";
import { useCan, type Permission } from "../auth";
import { nameMap, type Named } from "../lib/names";

/** Which lists an id may be looked up in. */
export type NameSource = "datasources" | "storages" | "jobs" | "channels" | "users" | "roles" | "tokens" | "templates";

const LIMIT = 500;

/** Each list as id and name, fetched only for a reader with its permission (`null`: anyone signed in). */
const SOURCES: Record<NameSource, { permission: Permission | null; fetch: () => Promise<Named[]> }> = {
  datasources: {
    permission: "datasources:read",
    fetch: async () => (await ok(api.GET("/api/datasources", { params: { query: { limit: LIMIT } } }))).data,
  },
  storages: {
    permission: "storages:read",
    fetch: async () => (await ok(api.GET("/api/storage-locations", { params: { query: { limit: LIMIT } } }))).data,
  },
  jobs: {
    permission: "jobs:read",
    fetch: async () => (await ok(api.GET("/api/backup-jobs", { params: { query: { limit: LIMIT } } }))).data,
  },
  channels: {
    permission: "notifications:read",
    fetch: async () => (await ok(api.GET("/api/notification-channels", { params: { query: { limit: LIMIT } } }))).data,
  },
  users: {
    permission: "users:manage",
    fetch: async () => (await ok(api.GET("/api/users", { params: { query: { limit: LIMIT } } }))).data,
  },
  roles: { permission: "users:manage", fetch: async () => (await ok(api.GET("/api/roles"))).data },
  tokens: { permission: null, fetch: async () => (await ok(api.GET("/api/tokens"))).data },
  templates: {
    permission: "notifications:read",
    fetch: async () =>
      (await ok(api.GET("/api/system/notification-templates"))).data.map((tpl) => ({ id: tpl.id, name: `${tpl.channel} · ${tpl.type}` })),
  },
};

/**
 * One list as ids and names, cached under `[prefix, "names", source]` so
 * live events refresh the names of the area showing them. A reader
 * without the list's permission is not sent asking (a refused request
 * would only add noise); `data` stays undefined.
 */
export function useNamedList(prefix: string, source: NameSource, wanted = true) {
  const can = useCan();
  const { permission, fetch } = SOURCES[source];
  return useQuery({
    queryKey: [prefix, "names", source],
    queryFn: fetch,
    enabled: wanted && (permission === null || can(permission)),
    staleTime: 30_000,
  });
}

const ALL_SOURCES = Object.keys(SOURCES) as NameSource[];

/** Names for ids from the lists in `sources` the reader may see. */
export function useNames(prefix: string, sources: readonly NameSource[]): Map<string, string> {
  // One hook per source, always in the same order; unwanted ones stay idle.
  const lists = ALL_SOURCES.map((s) => useNamedList(prefix, s, sources.includes(s)).data);
  return nameMap(lists);
}
