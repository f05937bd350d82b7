/** Where the explorer is: the root, then each folder, each a link back up; the current one is marked, not linked. */
import { Link } from "react-router";
import { useT } from "../../../i18n";
import type { Crumb } from "./paths";
import "./files.css";

/** The link to a folder: the same page with `?path=`. */
export function folderLink(prefix: string) {
  return { search: prefix === "" ? "" : `?${new URLSearchParams({ path: prefix })}` };
}

export function Breadcrumbs({ trail }: { trail: readonly Crumb[] }) {
  const t = useT();
  return (
    <nav className="crumbs" aria-label={t("storages.path")}>
      <ol>
        {trail.map((c, i) =>
          i === trail.length - 1 ? (
            <li key={c.prefix} aria-current="page">
              {c.label}
            </li>
          ) : (
            <li key={c.prefix}>
              <Link to={folderLink(c.prefix)}>{c.label}</Link>
            </li>
          ),
        )}
      </ol>
    </nav>
  );
}
