/**
 * The datasources' queries. Keys follow `live.tsx` (`keysFor`): a
 * `datasource_status` event refreshes `["datasources", …]` and
 * `["datasource", id, …]`, so lists, the detail, its history and its
 * databases update without polling.
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, ok, type Schemas } from "../../api/client";

export type Datasource = Schemas["DatasourceView"];
export type DatasourceBody = Schemas["CreateDatasource"];
export type HealthCheck = Schemas["HealthCheck"];
export type ConnectionTest = Schemas["ConnectionTest"];

export const datasourcesKey = ["datasources"] as const;
export const datasourceKey = (id: string) => ["datasource", id] as const;
export const healthChecksKey = (id: string) => ["datasource", id, "health-checks"] as const;
export const databasesKey = (id: string) => ["datasource", id, "databases"] as const;

export function useDatasourceList(page: number) {
  return useQuery({
    queryKey: [...datasourcesKey, { page }],
    queryFn: () => ok(api.GET("/api/datasources", { params: { query: { page } } })),
    placeholderData: keepPreviousData,
  });
}

export function useDatasource(id: string) {
  return useQuery({
    queryKey: datasourceKey(id),
    queryFn: () => ok(api.GET("/api/datasources/{id}", { params: { path: { id } } })),
  });
}

/** The latest checks, newest first (enough for a useful chart). */
export function useHealthChecks(id: string) {
  return useQuery({
    queryKey: healthChecksKey(id),
    queryFn: async () => (await ok(api.GET("/api/datasources/{id}/health-checks", { params: { path: { id }, query: { limit: 100 } } }))).data,
  });
}

/** Each listing contacts the database server, so a failure is shown, not retried. */
export function useDatabases(id: string) {
  return useQuery({
    queryKey: databasesKey(id),
    queryFn: async () => (await ok(api.GET("/api/datasources/{id}/databases", { params: { path: { id } } }))).data,
    retry: false,
  });
}
