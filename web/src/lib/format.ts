/** Numbers and times as people read them. */
import type { Translate } from "../i18n";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** The reader's language for numbers ("1,50 KiB" in Portuguese); set by the language switch. */
let numberLocale = "en";
export function setNumberLocale(locale: string): void {
  numberLocale = locale;
}

/** `value` with exactly `digits` decimals, in the reader's notation. */
export function decimal(value: number, digits: number): string {
  return value.toLocaleString(numberLocale, { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  let v = Math.abs(n);
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const digits = i === 0 || v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${n < 0 ? "-" : ""}${decimal(v, digits)} ${UNITS[i]}`;
}

export function rate(bytesPerSecond: number | null | undefined): string {
  return bytesPerSecond === null || bytesPerSecond === undefined ? "—" : `${bytes(bytesPerSecond)}/s`;
}

/** 75 → "1 min 15 s"; 3725 → "1 h 2 min". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h} h${m ? ` ${m} min` : ""}`;
}

/** A date and time in `timeZone` (the browser's when absent), e.g. "Mon, 7 Dec 2026, 03:00". */
export function dateTime(iso: string | null | undefined, timeZone?: string, locale?: string): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(locale, {
    weekday: "short",
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone,
  }).format(d);
}

/**
 * How far `iso` is from `now` in the reader's language: "in 3 h",
 * "5 min ago", "in 4 days" (days from two on, where hours stop reading
 * well); undefined for a missing or unreadable time.
 */
export function relative(t: Translate, iso: string | null | undefined, now: Date = new Date()): string | undefined {
  if (!iso) return undefined;
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return undefined;
  const seconds = Math.round((at - now.getTime()) / 1000);
  const away = Math.abs(seconds);
  const time = away >= 2 * 86400 ? t("common.days", { n: Math.round(away / 86400) }) : duration(away);
  return seconds >= 0 ? t("common.inTime", { time }) : t("common.timeAgo", { time });
}

export function percent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return "—";
  return `${decimal(ratio * 100, ratio >= 0.999 || ratio === 0 ? 0 : 1)}%`;
}
