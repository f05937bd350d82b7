/** "Delete Chinook?" and the call; the server refuses (409) while a job backs it up, and that message is shown in the dialog. */
import { useQueryClient } from "@tanstack/react-query";
import { api, ok } from "../../api/client";
import { ConfirmAction } from "../../components/ConfirmAction";
import { useT } from "../../i18n";
import { datasourcesKey, type Datasource } from "./api";

export function DeleteDatasource({ datasource, onClose, onDeleted }: { datasource: Datasource | null; onClose: () => void; onDeleted?: () => void }) {
  const t = useT();
  const client = useQueryClient();
  const name = datasource?.name ?? "";
  return (
    <ConfirmAction
      item={datasource}
      title={t("common.confirmDeleteTitle", { name })}
      body={t("datasources.deleteBody", { name })}
      confirmLabel={t("common.delete")}
      action={(d) => ok(api.DELETE("/api/datasources/{id}", { params: { path: { id: d.id } } }))}
      onDone={() => {
        client.invalidateQueries({ queryKey: datasourcesKey });
        onDeleted?.();
      }}
      onClose={onClose}
    />
  );
}
