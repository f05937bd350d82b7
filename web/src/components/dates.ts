/** Dates and times in the browser's time zone, worded in the reader's language. */
import { useContext } from "react";
import { I18n } from "../i18n";
import { dateTime } from "../lib/format";

/** Formats an instant; "—" when absent. */
export function useDateTime(): (iso: string | null | undefined) => string {
  const { locale } = useContext(I18n);
  return (iso) => dateTime(iso, undefined, locale);
}

/** Formats an instant; "Never" when absent (a check or a use that has not happened yet). */
export function useWhen(): (iso: string | null | undefined) => string {
  const { t, locale } = useContext(I18n);
  return (iso) => (iso ? dateTime(iso, undefined, locale) : t("common.never"));
}
