/**
 * The storages' queries. Keys start with `"storages"`, which a
 * `storage_status` event refreshes (`live.tsx`): the list, one storage
 * (`["storages", id]`) and its explorer (`["storages", id, "files", prefix]`).
 */
import { keepPreviousData, useQuery, type QueryClient } from "@tanstack/react-query";
import { api, ok, type Schemas } from "../../api/client";

export type Storage = Schemas["StorageView"];
export type StorageBody = Schemas["CreateStorage"];
export type StorageTest = Schemas["StorageTest"];
export type FileEntry = Schemas["FileEntry"];

export const storagesKey = ["storages"] as const;
export const storageKey = (id: string) => ["storages", id] as const;
export const filesKey = (id: string, prefix?: string) => (prefix === undefined ? (["storages", id, "files"] as const) : (["storages", id, "files", prefix] as const));

/**
 * After a storage changes (saved, tested, deleted): refresh the lists and
 * the storage, not its file listings, which did not change and whose
 * every reading is audited. A deleted storage (`gone`) is not asked for
 * again: its page is being left.
 */
export function refreshStorages(client: QueryClient, gone?: string): void {
  client.invalidateQueries({ queryKey: storagesKey, predicate: (q) => q.queryKey[2] !== "files" && (gone === undefined || q.queryKey[1] !== gone) });
}

export function useStorageList(page: number) {
  return useQuery({
    queryKey: [...storagesKey, { page }],
    queryFn: () => ok(api.GET("/api/storage-locations", { params: { query: { page } } })),
    placeholderData: keepPreviousData,
  });
}

export function useStorage(id: string) {
  return useQuery({
    queryKey: storageKey(id),
    queryFn: () => ok(api.GET("/api/storage-locations/{id}", { params: { path: { id } } })),
  });
}

/** One folder of the storage (`""` = its root). */
export function useFiles(id: string, prefix: string, enabled = true) {
  return useQuery({
    queryKey: filesKey(id, prefix),
    queryFn: async () => (await ok(api.GET("/api/storage-locations/{id}/files", { params: { path: { id }, query: { prefix } } }))).data,
    enabled,
  });
}

/** The address that downloads one object (the browser streams it; the server names the file). */
export function downloadUrl(id: string, key: string): string {
  return `/api/storage-locations/${encodeURIComponent(id)}/files/download?${new URLSearchParams({ path: key })}`;
}
