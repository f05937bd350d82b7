/** "Delete Local disk?" and the call; the server refuses (409) while a job uses the storage or it holds backups, and that message is shown in the dialog. */
import { useQueryClient } from "@tanstack/react-query";
import { api, ok } from "../../api/client";
import { ConfirmAction } from "../../components/ConfirmAction";
import { useT } from "../../i18n";
import { refreshStorages, type Storage } from "./api";

export function DeleteStorage({ storage, onClose, onDeleted }: { storage: Storage | null; onClose: () => void; onDeleted?: () => void }) {
  const t = useT();
  const client = useQueryClient();
  const name = storage?.name ?? "";
  return (
    <ConfirmAction
      item={storage}
      title={t("common.confirmDeleteTitle", { name })}
      body={t("storages.deleteBody", { name })}
      confirmLabel={t("common.delete")}
      action={(s) => ok(api.DELETE("/api/storage-locations/{id}", { params: { path: { id: s.id } } }))}
      onDone={(_, s) => {
        refreshStorages(client, s.id);
        onDeleted?.();
      }}
      onClose={onClose}
    />
  );
}
