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
