/** Small helpers the backups screens share. */
import { useContext } from "react";
import { I18n } from "../../i18n";
import { dateTime } from "../../lib/format";
import type { Backup } from "./restore";

/** When a backup was taken, as people date it: when it finished, else when it started or was queued. */
export function backupDate(backup: Backup): string {
  return backup.finished_at ?? backup.started_at ?? backup.created_at;
}

/** A date and time in the browser's zone, worded in the reader's language. */
export function useDateTime(): (iso: string | null | undefined) => string {
  const { locale } = useContext(I18n);
  return (iso) => dateTime(iso, undefined, locale);
}
