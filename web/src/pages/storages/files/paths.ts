/**
 * The explorer's paths. Keys are relative to the storage's root, without
 * a leading or trailing slash (`job/2026-01-01_000000/manifest.json`); a
 * folder's key lists its content when sent as the `prefix`.
 */
import type { FileEntry } from "../api";

/** `./a//b/` → `a/b`. */
export function normalize(key: string): string {
  return key
    .split("/")
    .filter((s) => s !== "" && s !== ".")
    .join("/");
}

export function baseName(key: string): string {
  const parts = normalize(key).split("/");
  return parts[parts.length - 1];
}

/** What a person reads for an entry: a job's folder by its job's name, anything else by its own name. */
export function entryName(entry: FileEntry): string {
  return entry.job_name ?? baseName(entry.key);
}

/** Folders first, then files, each in name order. */
export function sortEntries(entries: readonly FileEntry[]): FileEntry[] {
  return [...entries].sort((a, b) => Number(b.is_dir) - Number(a.is_dir) || entryName(a).localeCompare(entryName(b)));
}

export type Crumb = { prefix: string; label: string };

/**
 * The way from the root to `prefix`: the root (named `rootLabel`), then
 * each folder. Folders are named by `names` (a job's folder by its job)
 * where known, else by their own name.
 */
export function crumbs(prefix: string, rootLabel: string, names: ReadonlyMap<string, string> = new Map()): Crumb[] {
  const out: Crumb[] = [{ prefix: "", label: rootLabel }];
  const parts = normalize(prefix).split("/").filter((p) => p !== "");
  parts.forEach((part, i) => {
    const at = parts.slice(0, i + 1).join("/");
    out.push({ prefix: at, label: names.get(at) ?? part });
  });
  return out;
}

/** A destination for a copy beside the original: `a/b.tar.gz` → `a/b-copy.tar.gz`. */
export function copyTarget(key: string): string {
  const clean = normalize(key);
  const slash = clean.lastIndexOf("/");
  const dir = clean.slice(0, slash + 1);
  const base = clean.slice(slash + 1);
  const dot = base.indexOf(".", 1);
  return dot === -1 ? `${dir}${base}-copy` : `${dir}${base.slice(0, dot)}-copy${base.slice(dot)}`;
}
