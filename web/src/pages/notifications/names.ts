/** What a notification is about, by name (the id → name lookups are `lib/names.ts`). */

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
