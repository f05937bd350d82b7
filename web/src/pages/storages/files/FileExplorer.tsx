/**
 * "Files": one folder of the storage at a time. The folder is in the
 * address (`?path=`), so the browser's Back goes up and a folder can be
 * linked to. A job's folder (`{job_id}` at the root) reads as its job's
 * name, here and in the breadcrumb.
 */
import { useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { download } from "../../../api/client";
import { useCan } from "../../../auth";
import { ActionStatus, type Outcome } from "../../../components/ActionStatus";
import { useWhen } from "../../../components/dates";
import { RowButton } from "../../../components/RowButton";
import { Section } from "../../../components/Section";
import { Empty, QueryState } from "../../../components/State";
import { Table, type Column } from "../../../components/Table";
import { useT } from "../../../i18n";
import { bytes } from "../../../lib/format";
import { downloadUrl, useFiles, type FileEntry, type Storage } from "../api";
import { Breadcrumbs, folderLink } from "./Breadcrumbs";
import { CopyDialog } from "./CopyDialog";
import { DeleteFile } from "./DeleteFile";
import { crumbs, entryName, normalize, sortEntries } from "./paths";

export function FileExplorer({ storage }: { storage: Storage }) {
  const t = useT();
  const [params] = useSearchParams();
  const prefix = normalize(params.get("path") ?? "");
  const files = useFiles(storage.id, prefix);
  const trail = useTrail(storage, prefix);
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [copying, setCopying] = useState<FileEntry | null>(null);
  const [deleting, setDeleting] = useState<FileEntry | null>(null);
  const here = trail[trail.length - 1].label;
  return (
    <Section title={t("storages.files")}>
      <Breadcrumbs trail={trail} />
      <ActionStatus outcome={outcome} />
      <QueryState query={files}>
        {(entries) => (
          <FileTable storage={storage} caption={t("storages.filesCaption", { path: here })} entries={entries} onCopy={setCopying} onDelete={setDeleting} />
        )}
      </QueryState>
      <CopyDialog
        storage={storage}
        entry={copying}
        onClose={() => setCopying(null)}
        onCopied={(to) => {
          setOutcome({ tone: "good", text: t("storages.copied", { from: copying ? entryName(copying) : "", to }) });
          setCopying(null);
        }}
      />
      <DeleteFile storage={storage} entry={deleting} onClose={() => setDeleting(null)} onDeleted={(name) => setOutcome({ tone: "good", text: t("storages.deleted", { name }) })} />
    </Section>
  );
}

/**
 * The breadcrumb of `prefix`. Job folders are named in the root's
 * listing, which is read (usually from the cache, having come from
 * there) when the explorer is deeper.
 */
function useTrail(storage: Storage, prefix: string) {
  const root = useFiles(storage.id, "", prefix !== "");
  return useMemo(() => {
    const names = new Map((root.data ?? []).filter((e) => e.job_name).map((e) => [normalize(e.key), e.job_name as string]));
    return crumbs(prefix, storage.name, names);
  }, [root.data, prefix, storage.name]);
}

function FileTable({
  storage,
  caption,
  entries,
  onCopy,
  onDelete,
}: {
  storage: Storage;
  caption: string;
  entries: readonly FileEntry[];
  onCopy: (e: FileEntry) => void;
  onDelete: (e: FileEntry) => void;
}) {
  const t = useT();
  const can = useCan();
  const when = useWhen();
  const writer = can("storages:write");
  const rows = useMemo(() => sortEntries(entries), [entries]);
  const columns: Column<FileEntry>[] = [
    { header: t("storages.fileName"), cell: (e) => (e.is_dir ? <Link to={folderLink(normalize(e.key))}>{entryName(e)}</Link> : entryName(e)) },
    { header: t("storages.size"), cell: (e) => (e.is_dir ? t("storages.folder") : bytes(e.size)), className: "num" },
    { header: t("storages.modified"), cell: (e) => (e.modified ? when(e.modified) : "—") },
    {
      header: t("common.actions"),
      cell: (e) => {
        const name = entryName(e);
        return (
          <div className="actions">
            {!e.is_dir && <RowButton label={t("storages.download")} target={name} onClick={() => download(downloadUrl(storage.id, e.key))} />}
            {!e.is_dir && writer && <RowButton label={t("storages.copy")} target={name} onClick={() => onCopy(e)} />}
            {writer && <RowButton label={t("common.delete")} target={name} onClick={() => onDelete(e)} danger />}
          </div>
        );
      },
    },
  ];
  return <Table caption={caption} columns={columns} rows={rows} rowKey={(e) => e.key} empty={<Empty>{t("storages.emptyFolder")}</Empty>} />;
}
