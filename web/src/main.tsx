import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { I18n, initialLocale, translator, type Locale } from "./i18n";
import { setNumberLocale } from "./lib/format";
import "./styles.css";

const queries = new QueryClient({
  defaultOptions: {
    // Live events refresh what changed; no refetch on every focus.
    queries: { refetchOnWindowFocus: false, retry: 1, staleTime: 10_000 },
  },
});

function Root() {
  const [locale, setLocale] = useState<Locale>(initialLocale());
  const i18n = useMemo(
    () => ({
      t: translator(locale),
      locale,
      setLocale: (l: Locale) => {
        localStorage.setItem("dg.locale", l);
        document.documentElement.lang = l;
        setLocale(l);
      },
    }),
    [locale],
  );
  document.documentElement.lang = locale;
  setNumberLocale(locale);
  return (
    <I18n.Provider value={i18n}>
      <QueryClientProvider client={queries}>
        <App />
      </QueryClientProvider>
    </I18n.Provider>
  );
}

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <Root />
    </StrictMode>,
  );
}
