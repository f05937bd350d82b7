/** Small helpers the backups screens share. */
import type { Backup } from "./restore";

/** When a backup was taken, as people date it: when it finished, else when it started or was queued. */
export function backupDate(backup: Backup): string {
  return backup.finished_at ?? backup.started_at ?? backup.created_at;
}
