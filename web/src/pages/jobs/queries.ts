/**
 * What the jobs and executions screens read besides their own lists: the
 * names of datasources, storages and jobs (people read names, never ids),
 * and the reader's locale for dates. Query keys start with the area
 * `src/live.tsx` refreshes when something changes there.
 */
import { useQuery } from "@tanstack/react-query";
import { useContext } from "react";
import { api, ok } from "../../api/client";
import { useCan } from "../../auth";
import { I18n } from "../../i18n";

export type Choice = { id: string; name: string };
export type StorageChoice = Choice & { isDefault: boolean };

/** The most a list answers in one page; enough for every datasource, storage or job of a server. */
const ALL = 500;

export const jobKeys = {
  all: ["jobs"] as const,
  list: (page: number) => ["jobs", "list", page] as const,
  one: (id: string) => ["jobs", id] as const,
  lastBackup: (id: string) => ["jobs", id, "last-backup"] as const,
  choices: ["jobs", "choices"] as const,
};

/** Datasources by name. Disabled without `datasources:read` (the server would refuse). */
export function useDatasourceChoices() {
  const can = useCan();
  return useQuery({
    queryKey: ["datasources", "choices"],
    queryFn: () => ok(api.GET("/api/datasources", { params: { query: { limit: ALL } } })),
    select: (page): Choice[] => page.data.map((d) => ({ id: d.id, name: d.name })),
    enabled: can("datasources:read"),
  });
}

/** Storages by name, with the one a new job uses when none is chosen. */
export function useStorageChoices() {
  const can = useCan();
  return useQuery({
    queryKey: ["storages", "choices"],
    queryFn: () => ok(api.GET("/api/storage-locations", { params: { query: { limit: ALL } } })),
    select: (page): StorageChoice[] => page.data.map((s) => ({ id: s.id, name: s.name, isDefault: s.is_default })),
    enabled: can("storages:read"),
  });
}

/** Jobs by name (the executions filter). */
export function useJobChoices() {
  const can = useCan();
  return useQuery({
    queryKey: jobKeys.choices,
    queryFn: () => ok(api.GET("/api/backup-jobs", { params: { query: { limit: ALL } } })),
    select: (page): Choice[] => page.data.map((j) => ({ id: j.id, name: j.name })),
    enabled: can("jobs:read"),
  });
}

/** id → name, for cells that show a name. */
export function nameOf(choices: readonly Choice[] | undefined, id: string | null | undefined): string | undefined {
  if (!id) return undefined;
  return choices?.find((c) => c.id === id)?.name;
}

/** The reader's language, for dates and numbers. */
export function useLocale(): string {
  return useContext(I18n).locale;
}

/**
 * `zone` when this browser can show times in it, else undefined (the
 * browser's own zone). The server's zone database may know a name the
 * browser's does not, and formatting in an unknown zone throws.
 */
export function shownZone(zone: string | null | undefined): string | undefined {
  if (!zone) return undefined;
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: zone });
    return zone;
  } catch {
    return undefined;
  }
}

