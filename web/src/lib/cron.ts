/**
 * The cron field's preview. The next runs come from the server
 * (`GET /api/backup-jobs/schedule-preview`), computed by the scheduler's
 * own code, so the preview cannot disagree with what will run; this
 * module decides when to ask and how to show the answer.
 */
import { dateTime } from "./format";

/** Whether `text` is worth sending: five or six fields, nothing else. */
export function looksComplete(text: string): boolean {
  const fields = text.trim().split(/\s+/).filter((f) => f !== "");
  return (fields.length === 5 || fields.length === 6) && fields.every((f) => /^[0-9A-Za-z*/,?#LW-]+$/.test(f));
}

export type PreviewRow = { when: string; inZone: string };

/**
 * Each run in the job's timezone (what the operator means); the
 * browser's own zone is added when it differs,
 * so "03:00 Lisbon" is also "04:00 here".
 */
export function previewRows(runs: readonly string[], timeZone: string, browserZone?: string, locale?: string): PreviewRow[] {
  return runs.map((iso) => ({
    when: iso,
    inZone: dateTime(iso, timeZone, locale) + (browserZone && browserZone !== timeZone ? ` (${dateTime(iso, browserZone, locale)} ${browserZone})` : ""),
  }));
}

/** The IANA zones the browser knows, for the timezone picker (UTC first). */
export function knownZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  const zones = intl.supportedValuesOf?.("timeZone") ?? [];
  return ["UTC", ...zones.filter((z) => z !== "UTC")];
}
