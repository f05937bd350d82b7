/** The frame of every signed-in screen: skip link, navigation, who is signed in, sign out. */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { NavLink, Outlet } from "react-router";
import { useContext } from "react";
import { api } from "../api/client";
import { ME_KEY, setSignedOutHere, useMe, type Permission } from "../auth";
import { I18n, LOCALES, type Locale, type MessageKey } from "../i18n";
import { useLiveConnected } from "../live";

/** Each section and what reading it takes (the server's rule for its list); none: everyone. */
const LINKS: [string, MessageKey, Permission?][] = [
  ["/", "nav.dashboard"],
  ["/datasources", "nav.datasources", "datasources:read"],
  ["/storages", "nav.storages", "storages:read"],
  ["/jobs", "nav.jobs", "jobs:read"],
  ["/executions", "nav.executions", "executions:read"],
  ["/backups", "nav.backups", "executions:read"],
  ["/notifications", "nav.notifications", "notifications:read"],
  ["/settings", "nav.settings"],
];

export function Layout() {
  const { t, locale, setLocale } = useContext(I18n);
  const me = useMe();
  const live = useLiveConnected();
  const client = useQueryClient();
  const signOut = useMutation({
    mutationFn: () => api.POST("/api/auth/logout"),
    onSettled: () => {
      // Signed out first (the shell shows the sign-in form), then nothing
      // of this user stays cached for the next one. (`clear()` would also
      // drop the query the shell observes, which then never hears of it.)
      setSignedOutHere(true);
      client.setQueryData(ME_KEY, null);
      client.removeQueries({ predicate: (q) => q.queryKey[0] !== ME_KEY[0] });
    },
  });
  return (
    <div className="app">
      <a className="skip" href="#main">
        {t("app.skip")}
      </a>
      <header className="top">
        <span className="brand">{t("app.name")}</span>
        <nav aria-label={t("nav.label")}>
          <ul>
            {LINKS.filter(([, , need]) => !need || me.permissions.includes(need)).map(([to, key]) => (
              <li key={to}>
                <NavLink to={to} end={to === "/"}>
                  {t(key)}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span className={`live ${live ? "on" : "off"}`} role="status">
            {live ? t("nav.live") : t("nav.offline")}
          </span>
          <span>{t("nav.signedInAs", { name: me.username, role: me.role })}</span>
          <label className="visually-hidden" htmlFor="locale">
            {t("nav.language")}
          </label>
          <select id="locale" value={locale} onChange={(e) => setLocale(e.target.value as Locale)}>
            {Object.entries(LOCALES).map(([k, name]) => (
              <option key={k} value={k}>
                {name}
              </option>
            ))}
          </select>
          <button type="button" className="secondary" onClick={() => signOut.mutate()}>
            {t("nav.signOut")}
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
