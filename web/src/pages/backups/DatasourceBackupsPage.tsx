/**
 * `/backups/:datasourceId`: a datasource's completed backups, newest
 * first, with where each copy is and whether it can be read now, and the
 * restore dialog.
 */
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router";
import { api, ok } from "../../api/client";
import { useCan } from "../../auth";
import { useDateTime } from "../../components/dates";
import { Empty, QueryState } from "../../components/State";
import { Status } from "../../components/Status";
import { Table, type Column } from "../../components/Table";
import { useT, type MessageKey } from "../../i18n";
import { bytes } from "../../lib/format";
import { RestoreDialog } from "./RestoreDialog";
import { isRestorable, type Backup, type Copy } from "./restore";
import { backupDate } from "./shared";

/** A copy's availability as text, with the status colours (the word carries the meaning). */
const AVAILABILITY: Record<Copy["availability"], { key: MessageKey; tone: string }> = {
  available: { key: "backups.availability.available", tone: "good" },
  missing: { key: "backups.availability.missing", tone: "bad" },
  unreachable: { key: "backups.availability.unreachable", tone: "bad" },
  unknown: { key: "backups.availability.unknown", tone: "muted" },
};

/**
 * The names of the jobs that made this datasource's backups. A backup row
 * carries only the job's id; the executions list carries its name too
 * (and needs the same permission as the backups list).
 */
function useJobNames(datasourceId: string): Map<string, string> {
  const query = useQuery({
    queryKey: ["executions", { datasource_id: datasourceId, operation: "backup", status: "completed", limit: 500 }],
    queryFn: () =>
      ok(
        api.GET("/api/executions", {
          params: { query: { datasource_id: datasourceId, operation: "backup", status: "completed", limit: 500 } },
        }),
      ),
  });
  const names = new Map<string, string>();
  for (const e of query.data?.data ?? []) if (e.job_id && e.job_name) names.set(e.job_id, e.job_name);
  return names;
}

export function DatasourceBackupsPage() {
  const { datasourceId = "" } = useParams();
  const t = useT();
  const can = useCan();
  const when = useDateTime();
  const jobNames = useJobNames(datasourceId);
  const [restoring, setRestoring] = useState<Backup | null>(null);
  const query = useQuery({
    queryKey: ["backups", "datasource", datasourceId],
    queryFn: () => ok(api.GET("/api/backups/datasources/{datasource_id}", { params: { path: { datasource_id: datasourceId } } })),
  });
  const name = query.data?.name;
  const mayRestore = can("backups:restore");

  const columns: Column<Backup>[] = [
    { header: t("backups.date"), cell: (b) => when(backupDate(b)) },
    {
      header: t("backups.job"),
      cell: (b) => (b.job_id ? (jobNames.get(b.job_id) ?? t("backups.jobUnknown")) : t("backups.noJob")),
    },
    {
      header: t("backups.size"),
      className: "num",
      cell: (b) =>
        b.compressed_size_bytes !== null && b.compressed_size_bytes !== undefined && b.compressed_size_bytes !== b.size_bytes
          ? t("backups.sizeStored", { size: bytes(b.size_bytes), stored: bytes(b.compressed_size_bytes) })
          : bytes(b.size_bytes),
    },
    {
      header: t("backups.storages"),
      cell: (b) =>
        b.copies.length === 0 ? (
          t("common.none")
        ) : (
          <ul className="copies">
            {b.copies.map((c) => (
              <li key={c.storage_location_id}>
                {c.storage_name || t("backups.storageDeleted")}:{" "}
                <span className={`status tone-${AVAILABILITY[c.availability].tone}`}>{t(AVAILABILITY[c.availability].key)}</span>
              </li>
            ))}
          </ul>
        ),
    },
    {
      header: t("backups.status"),
      cell: (b) => (
        <>
          <Status value={b.status} />
          {b.restored_at && <div className="help">{t("backups.restoredAt", { date: when(b.restored_at) })}</div>}
        </>
      ),
    },
  ];
  if (mayRestore) {
    columns.push({
      header: t("common.actions"),
      cell: (b) =>
        isRestorable(b) ? (
          <button type="button" className="secondary" onClick={() => setRestoring(b)}>
            {t("backups.restore")}
            <span className="visually-hidden"> {when(backupDate(b))}</span>
          </button>
        ) : (
          <span className="help">{t("backups.notRestorable")}</span>
        ),
    });
  }

  return (
    <>
      <div className="page-head">
        <h1>{name ? t("backups.of", { name }) : t("backups.title")}</h1>
        <div className="actions">
          <Link to="/backups">{t("backups.back")}</Link>
        </div>
      </div>
      <QueryState query={query}>
        {(list) => (
          <Table
            caption={t("backups.tableCaption", { name: list.name })}
            columns={columns}
            rows={list.backups}
            rowKey={(b) => b.id}
            empty={<Empty>{t("backups.noneForDatasource")}</Empty>}
          />
        )}
      </QueryState>
      {/* Outside QueryState: a failed refresh of the list must not close a running restore. */}
      {query.data && (
        <RestoreDialog backup={restoring} datasource={{ id: query.data.datasource_id, name: query.data.name }} onClose={() => setRestoring(null)} />
      )}
    </>
  );
}
