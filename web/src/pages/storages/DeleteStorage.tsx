/** "Delete Local disk?" and the call; the server refuses (409) while a job uses the storage or it holds backups, and that message is shown in the dialog. */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, ok } from "../../api/client";
import { ConfirmDialog } from "../../components/Dialog";
import { ErrorNote } from "../../components/State";
import { useT } from "../../i18n";
import { refreshStorages, type Storage } from "./api";

export function DeleteStorage({ storage, onClose, onDeleted }: { storage: Storage | null; onClose: () => void; onDeleted?: () => void }) {
  const t = useT();
  const client = useQueryClient();
  const remove = useMutation({
    mutationFn: (id: string) => ok(api.DELETE("/api/storage-locations/{id}", { params: { path: { id } } })),
    onSuccess: (_, id) => {
      refreshStorages(client, id);
      onClose();
      onDeleted?.();
    },
  });
  const name = storage?.name ?? "";
  return (
    <ConfirmDialog
      open={storage !== null}
      title={t("common.confirmDeleteTitle", { name })}
      body={t("storages.deleteBody", { name })}
      confirmLabel={t("common.delete")}
      busy={remove.isPending}
      error={remove.error ? <ErrorNote error={remove.error} /> : undefined}
      onConfirm={() => storage && remove.mutate(storage.id)}
      onClose={() => {
        remove.reset();
        onClose();
      }}
    />
  );
}
