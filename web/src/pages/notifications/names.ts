/**
 * Names for ids. Notifications, deliveries and audit rows carry only the
 * id of what they are about; people read names, so the screens look the
 * id up in the lists the reader may see. Ids are UUIDs (built-in roles:
 * their name), unique across kinds, so one map serves every kind.
 */

/** Anything listed with an id and a readable name. */
export type Named = { id: string; name?: string | null; username?: string | null };

/** One map over several lists; a list not loaded (or not permitted) is skipped. */
export function nameMap(lists: readonly (readonly Named[] | undefined)[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const list of lists) {
    for (const item of list ?? []) {
      const name = item.name ?? item.username;
      if (name) out.set(item.id, name);
    }
  }
  return out;
}

/** What a notification is about, by name: its entity, or for an execution the job it ran (`metadata.job_id`). */
export function aboutName(
  n: { entity_id?: string | null; entity_type?: string | null; metadata: unknown },
  names: ReadonlyMap<string, string>,
): string | undefined {
  if (n.entity_id && names.has(n.entity_id)) return names.get(n.entity_id);
  const meta = n.metadata;
  if (meta && typeof meta === "object" && !Array.isArray(meta)) {
    const jobId = (meta as Record<string, unknown>).job_id;
    if (typeof jobId === "string" && names.has(jobId)) return names.get(jobId);
  }
  return undefined;
}
