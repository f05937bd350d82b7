/** `/datasources`: every datasource with its health, and the way to add one. */
import { useState } from "react";
import { Link } from "react-router";
import { useCan } from "../../auth";
import { Status } from "../../components/Status";
import { Empty, QueryState } from "../../components/State";
import { Pager, Table, type Column } from "../../components/Table";
import { useT } from "../../i18n";
import { useDatasourceList, type Datasource } from "./api";
import { DatasourceDialog } from "./DatasourceDialog";
import { DeleteDatasource } from "./DeleteDatasource";
import { useWhen } from "./shared/useWhen";
import { RowButton } from "./shared/RowButton";

/** Which dialog is open: adding, editing one, or none. */
type Editing = { datasource?: Datasource } | null;

export function DatasourceList() {
  const t = useT();
  const can = useCan();
  const when = useWhen();
  const [page, setPage] = useState(1);
  const list = useDatasourceList(page);
  const [editing, setEditing] = useState<Editing>(null);
  const [deleting, setDeleting] = useState<Datasource | null>(null);
  const writer = can("datasources:write");

  const columns: Column<Datasource>[] = [
    { header: t("datasources.name"), cell: (d) => <Link to={`/datasources/${d.id}`}>{d.name}</Link> },
    { header: t("datasources.type"), cell: (d) => d.type },
    { header: t("datasources.status"), cell: (d) => <Status value={d.enabled ? d.status : "disabled"} /> },
    { header: t("datasources.lastChecked"), cell: (d) => when(d.last_health_check_at) },
  ];
  if (writer) {
    columns.push({
      header: t("common.actions"),
      cell: (d) => (
        <div className="actions">
          <RowButton label={t("common.edit")} target={d.name} onClick={() => setEditing({ datasource: d })} />
          <RowButton label={t("common.delete")} target={d.name} onClick={() => setDeleting(d)} danger />
        </div>
      ),
    });
  }

  return (
    <>
      <div className="page-head">
        <h1>{t("nav.datasources")}</h1>
        {writer && (
          <div className="actions">
            <button type="button" onClick={() => setEditing({})}>
              {t("datasources.add")}
            </button>
          </div>
        )}
      </div>
      <QueryState query={list}>
        {(result) => (
          <>
            <Table caption={t("datasources.caption")} columns={columns} rows={result.data} rowKey={(d) => d.id} empty={<Empty>{t("datasources.empty")}</Empty>} />
            <Pager pagination={result.pagination} onPage={setPage} />
          </>
        )}
      </QueryState>
      <DatasourceDialog open={editing !== null} datasource={editing?.datasource} onClose={() => setEditing(null)} />
      <DeleteDatasource datasource={deleting} onClose={() => setDeleting(null)} />
    </>
  );
}
