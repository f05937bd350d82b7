/**
 * Message catalogs. Every text the UI shows comes from here, by key, so a
 * translation is one more catalog. English is complete (the type of a
 * key is a key of it); Brazilian Portuguese (the seeds' language) falls
 * back to English where a text is not translated yet.
 */
import { createContext, useContext } from "react";
import common from "./en/common";
import dashboard from "./en/dashboard";
import datasources from "./en/datasources";
import storages from "./en/storages";
import jobs from "./en/jobs";
import executions from "./en/executions";
import backups from "./en/backups";
import notifications from "./en/notifications";
import settings from "./en/settings";
import ptCommon from "./pt-BR/common";
import ptDashboard from "./pt-BR/dashboard";
import ptDatasources from "./pt-BR/datasources";
import ptStorages from "./pt-BR/storages";
import ptJobs from "./pt-BR/jobs";
import ptExecutions from "./pt-BR/executions";
import ptBackups from "./pt-BR/backups";
import ptNotifications from "./pt-BR/notifications";
import ptSettings from "./pt-BR/settings";

const en = { ...common, ...dashboard, ...datasources, ...storages, ...jobs, ...executions, ...backups, ...notifications, ...settings };
export type MessageKey = keyof typeof en;
export type Messages = Record<MessageKey, string>;

const ptBR: Partial<Messages> = {
  ...ptCommon,
  ...ptDashboard,
  ...ptDatasources,
  ...ptStorages,
  ...ptJobs,
  ...ptExecutions,
  ...ptBackups,
  ...ptNotifications,
  ...ptSettings,
};

export const LOCALES = { en: "English", "pt-BR": "Português (Brasil)" } as const;
export type Locale = keyof typeof LOCALES;
const catalogs: Record<Locale, Partial<Messages>> = { en, "pt-BR": ptBR };

/** Whether `key` names a text (for texts chosen by an API value, such as a status). */
export function isMessageKey(key: string): key is MessageKey {
  return key in en;
}

export type Vars = Record<string, string | number | null | undefined>;
export type Translate = (key: MessageKey, vars?: Vars) => string;

/** `{name}` in a text is replaced by `vars.name`. */
export function translator(locale: Locale): Translate {
  const catalog = catalogs[locale] ?? en;
  return (key, vars) => {
    const text = catalog[key] ?? en[key] ?? key;
    return vars ? text.replace(/\{(\w+)\}/g, (m, name) => (vars[name] === undefined || vars[name] === null ? m : String(vars[name]))) : text;
  };
}

/** The saved choice, else the browser's language when a catalog has it. */
export function initialLocale(): Locale {
  const saved = globalThis.localStorage?.getItem("dg.locale");
  if (saved && saved in LOCALES) return saved as Locale;
  const lang = globalThis.navigator?.language ?? "en";
  return lang.toLowerCase().startsWith("pt") ? "pt-BR" : "en";
}

export const I18n = createContext<{ t: Translate; locale: Locale; setLocale: (l: Locale) => void }>({
  t: translator("en"),
  locale: "en",
  setLocale: () => {},
});

export function useT(): Translate {
  return useContext(I18n).t;
}
