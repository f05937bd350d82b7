import { useContext } from "react";
import { I18n } from "../../../i18n";
import { dateTime } from "../../../lib/format";

/** A date and time in the reader's language; "Never" when absent. */
export function useWhen(): (iso: string | null | undefined) => string {
  const { t, locale } = useContext(I18n);
  return (iso) => (iso ? dateTime(iso, undefined, locale) : t("common.never"));
}
