/** "Delete Chinook?" and the call; the server refuses (409) while a job backs it up, and that message is shown in the dialog. */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, ok } from "../../api/client";
import { ConfirmDialog } from "../../components/Dialog";
import { ErrorNote } from "../../components/State";
import { useT } from "../../i18n";
import { datasourcesKey, type Datasource } from "./api";

export function DeleteDatasource({ datasource, onClose, onDeleted }: { datasource: Datasource | null; onClose: () => void; onDeleted?: () => void }) {
  const t = useT();
  const client = useQueryClient();
  const remove = useMutation({
    mutationFn: (id: string) => ok(api.DELETE("/api/datasources/{id}", { params: { path: { id } } })),
    onSuccess: () => {
      client.invalidateQueries({ queryKey: datasourcesKey });
      onClose();
      onDeleted?.();
    },
  });
  const name = datasource?.name ?? "";
  return (
    <ConfirmDialog
      open={datasource !== null}
      title={t("common.confirmDeleteTitle", { name })}
      body={t("datasources.deleteBody", { name })}
      confirmLabel={t("common.delete")}
      busy={remove.isPending}
      error={remove.error ? <ErrorNote error={remove.error} /> : undefined}
      onConfirm={() => datasource && remove.mutate(datasource.id)}
      onClose={() => {
        remove.reset();
        onClose();
      }}
    />
  );
}
