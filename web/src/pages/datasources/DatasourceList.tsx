/** `/datasources`: every datasource with its health, and the way to add one. */
import { useState } from "react";
import { Link } from "react-router";
import { useCan } from "../../auth";
import { useWhen } from "../../components/dates";
import { PageHead } from "../../components/PageHead";
import { EditDeleteButtons } from "../../components/RowButton";
import { Status } from "../../components/Status";
import { Empty } from "../../components/State";
import { PagedTable, type Column } from "../../components/Table";
import { useT } from "../../i18n";
import { useDatasourceList, type Datasource } from "./api";
import { DatasourceDialog } from "./DatasourceDialog";
import { DeleteDatasource } from "./DeleteDatasource";

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
      cell: (d) => <EditDeleteButtons target={d.name} onEdit={() => setEditing({ datasource: d })} onDelete={() => setDeleting(d)} />,
    });
  }

  return (
    <>
      <PageHead title={t("nav.datasources")}>
        {writer && (
          <button type="button" onClick={() => setEditing({})}>
            {t("datasources.add")}
          </button>
        )}
      </PageHead>
      <PagedTable
        query={list}
        onPage={setPage}
        caption={t("datasources.caption")}
        columns={columns}
        rowKey={(d) => d.id}
        empty={<Empty>{t("datasources.empty")}</Empty>}
      />
      <DatasourceDialog open={editing !== null} datasource={editing?.datasource} onClose={() => setEditing(null)} />
      <DeleteDatasource datasource={deleting} onClose={() => setDeleting(null)} />
    </>
  );
}
