import { Link } from "react-router";
import { useT } from "../i18n";

export function NotFound() {
  const t = useT();
  return (
    <section>
      <h1>{t("common.pageNotFound")}</h1>
      <Link to="/">{t("nav.dashboard")}</Link>
    </section>
  );
}
