/**
 * Installed plugins: database engines, storages and notifiers, built in
 * or added, with what they provide and which of their fields are
 * secrets (sealed at rest, never shown back).
 */
import { Empty, QueryState } from "../../components/State";
import { Table, type Column } from "../../components/Table";
import { useAllPlugins } from "../../components/usePlugins";
import { useT } from "../../i18n";
import type { Plugin } from "../../lib/pluginTypes";

const codes = (list: readonly string[], none: string) =>
  list.length === 0 ? (
    none
  ) : (
    <span className="codes">
      {list.map((x) => (
        <code key={x}>{x}</code>
      ))}
    </span>
  );

export function Plugins() {
  const t = useT();
  // The same query as the channel form's notifier list: one request serves both.
  const plugins = useAllPlugins();
  const columns: Column<Plugin>[] = [
    { header: t("settings.plugins.id"), cell: (p) => <code>{p.id}</code> },
    { header: t("settings.plugins.kind"), cell: (p) => p.kind },
    { header: t("settings.plugins.version"), cell: (p) => p.version },
    { header: t("settings.plugins.serves"), cell: (p) => codes(p.serves, t("settings.plugins.servesNothing")) },
    { header: t("settings.plugins.builtIn"), cell: (p) => (p.builtin ? t("common.yes") : t("common.no")) },
    { header: t("settings.plugins.description"), cell: (p) => p.description || "—" },
    { header: t("settings.plugins.secrets"), cell: (p) => codes(p.secret_fields, t("common.none")) },
    { header: t("settings.plugins.warnings"), cell: (p) => (p.warnings.length ? p.warnings.join(" ") : "—") },
  ];
  return (
    <section aria-labelledby="plugins-heading">
      <h2 id="plugins-heading">{t("settings.tab.plugins")}</h2>
      <p className="note">{t("settings.plugins.installHow")}</p>
      <QueryState query={plugins}>
        {(page) => <Table caption={t("settings.tab.plugins")} columns={columns} rows={page.data} rowKey={(p) => p.id} empty={<Empty>{t("settings.plugins.empty")}</Empty>} />}
      </QueryState>
    </section>
  );
}
