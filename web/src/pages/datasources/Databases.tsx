/** "Databases on this server": what the engine lists there, or why it cannot. */
import { Empty, QueryState } from "../../components/State";
import { Table, type Column } from "../../components/Table";
import { Section } from "../../components/Section";
import { useT } from "../../i18n";
import { fromConfig } from "../../lib/pluginTypes";
import { useDatabases, type Datasource } from "./api";

export function Databases({ datasource }: { datasource: Datasource }) {
  const t = useT();
  const databases = useDatabases(datasource.id);
  const configured = fromConfig(datasource.connection_config).database;
  const columns: Column<string>[] = [
    {
      header: t("datasources.database"),
      cell: (name) => (
        <>
          {name}
          {name === configured && <small className="help"> — {t("datasources.configuredDatabase")}</small>}
        </>
      ),
    },
  ];
  return (
    <Section title={t("datasources.databases")}>
      <QueryState query={databases}>
        {(names) => (
          <Table
            caption={t("datasources.databasesCaption", { name: datasource.name })}
            columns={columns}
            rows={names}
            rowKey={(n) => n}
            empty={<Empty>{t("datasources.noDatabases")}</Empty>}
          />
        )}
      </QueryState>
    </Section>
  );
}
