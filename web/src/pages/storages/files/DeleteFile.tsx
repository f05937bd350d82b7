/** "Delete manifest.json?" and the call; the server refuses (409) anything touching a backup's folder (backups are deleted with their execution), and that message is shown in the dialog. */
import { useQueryClient } from "@tanstack/react-query";
import { api, ok } from "../../../api/client";
import { ConfirmAction } from "../../../components/ConfirmAction";
import { useT } from "../../../i18n";
import { filesKey, type FileEntry, type Storage } from "../api";
import { entryName } from "./paths";

export function DeleteFile({ storage, entry, onClose, onDeleted }: { storage: Storage; entry: FileEntry | null; onClose: () => void; onDeleted: (name: string) => void }) {
  const t = useT();
  const client = useQueryClient();
  const name = entry ? entryName(entry) : "";
  return (
    <ConfirmAction
      item={entry}
      title={t("common.confirmDeleteTitle", { name })}
      body={t(entry?.is_dir ? "storages.deleteFolderBody" : "storages.deleteFileBody", { name })}
      confirmLabel={t("common.delete")}
      action={(target) => ok(api.DELETE("/api/storage-locations/{id}/files", { params: { path: { id: storage.id }, query: { path: target.key } } }))}
      onDone={(_, target) => {
        client.invalidateQueries({ queryKey: filesKey(storage.id) });
        onDeleted(entryName(target));
      }}
      onClose={onClose}
    />
  );
}
