/** `/storages`: every storage with its health and free space, and the way to add one. */
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
import { useStorageList, type Storage } from "./api";
import { DeleteStorage } from "./DeleteStorage";
import { freeSpace } from "./describe";
import { StorageDialog } from "./StorageDialog";

/** Which dialog is open: adding, editing one, or none. */
type Editing = { storage?: Storage } | null;

export function StorageList() {
  const t = useT();
  const can = useCan();
  const when = useWhen();
  const [page, setPage] = useState(1);
  const list = useStorageList(page);
  const [editing, setEditing] = useState<Editing>(null);
  const [deleting, setDeleting] = useState<Storage | null>(null);
  const writer = can("storages:write");

  const columns: Column<Storage>[] = [
    { header: t("storages.name"), cell: (s) => <Link to={`/storages/${s.id}`}>{s.name}</Link> },
    { header: t("storages.type"), cell: (s) => s.type },
    { header: t("storages.status"), cell: (s) => <Status value={s.status} /> },
    { header: t("storages.freeSpace"), cell: (s) => freeSpace(s.available_space_gb), className: "num" },
    { header: t("storages.default"), cell: (s) => t(s.is_default ? "common.yes" : "common.no") },
    { header: t("storages.lastChecked"), cell: (s) => when(s.last_health_check_at) },
  ];
  if (writer) {
    columns.push({
      header: t("common.actions"),
      cell: (s) => <EditDeleteButtons target={s.name} onEdit={() => setEditing({ storage: s })} onDelete={() => setDeleting(s)} />,
    });
  }

  return (
    <>
      <PageHead title={t("nav.storages")}>
        {writer && (
          <button type="button" onClick={() => setEditing({})}>
            {t("storages.add")}
          </button>
        )}
      </PageHead>
      <PagedTable query={list} onPage={setPage} caption={t("storages.caption")} columns={columns} rowKey={(s) => s.id} empty={<Empty>{t("storages.empty")}</Empty>} />
      <StorageDialog open={editing !== null} storage={editing?.storage} onClose={() => setEditing(null)} />
      <DeleteStorage storage={deleting} onClose={() => setDeleting(null)} />
    </>
  );
}
