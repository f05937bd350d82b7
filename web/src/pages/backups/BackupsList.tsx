/** `/backups`: the datasources that have completed backups, each a way to its backups. */
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, ok, type Schemas } from "../../api/client";
import { useWhen } from "../../components/dates";
import { Empty, QueryState } from "../../components/State";
import { Status } from "../../components/Status";
import { Table, type Column } from "../../components/Table";
import { useT } from "../../i18n";

type Row = Schemas["DatasourceBackups"];

export function BackupsList() {
  const t = useT();
  const when = useWhen();
  const query = useQuery({
    queryKey: ["backups", "datasources"],
    queryFn: () => ok(api.GET("/api/backups/datasources")),
  });
  const columns: Column<Row>[] = [
    { header: t("backups.datasource"), cell: (r) => <Link to={`/backups/${encodeURIComponent(r.datasource_id)}`}>{r.name}</Link> },
    { header: t("backups.type"), cell: (r) => r.type },
    { header: t("backups.health"), cell: (r) => <Status value={r.status} /> },
    { header: t("backups.count"), cell: (r) => r.backups, className: "num" },
    { header: t("backups.lastBackup"), cell: (r) => when(r.last_backup_at) },
  ];
  return (
    <>
      <div className="page-head">
        <h1>{t("backups.title")}</h1>
      </div>
      <QueryState query={query}>
        {(page) => (
          <Table
            caption={t("backups.listCaption")}
            columns={columns}
            rows={page.data}
            rowKey={(r) => r.datasource_id}
            empty={<Empty>{t("backups.none")}</Empty>}
          />
        )}
      </QueryState>
    </>
  );
}
