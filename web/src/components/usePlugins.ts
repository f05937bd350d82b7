import { useQuery } from "@tanstack/react-query";
import { api, ok } from "../api/client";
import type { Plugin } from "../lib/pluginTypes";

export type PluginKind = "engine" | "storage";

/**
 * The installed plugins of one kind. They do not change while the server
 * runs, so they are fetched once per session. The key names the kind so
 * it cannot clash with another screen caching the whole list.
 */
export function usePlugins(kind: PluginKind) {
  return useQuery({
    queryKey: ["plugins", "of-kind", kind],
    queryFn: async (): Promise<Plugin[]> => (await ok(api.GET("/api/plugins"))).data.filter((p) => p.kind === kind),
    staleTime: Infinity,
  });
}

/** Every installed plugin, as the API answers (the plugins screen, the channel form's notifiers): one request serves both. */
export function useAllPlugins() {
  return useQuery({ queryKey: ["plugins"], queryFn: () => ok(api.GET("/api/plugins")), staleTime: 5 * 60_000 });
}
