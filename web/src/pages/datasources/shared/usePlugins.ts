import { useQuery } from "@tanstack/react-query";
import { api, ok } from "../../../api/client";
import type { Plugin } from "./pluginTypes";

/**
 * The installed plugins of one kind. They do not change while the server
 * runs, so they are fetched once per session. The key names the kind so
 * it cannot clash with another screen caching the whole list.
 */
export function usePlugins(kind: "engine" | "storage") {
  return useQuery({
    queryKey: ["plugins", "of-kind", kind],
    queryFn: async (): Promise<Plugin[]> => (await ok(api.GET("/api/plugins"))).data.filter((p) => p.kind === kind),
    staleTime: Infinity,
  });
}
