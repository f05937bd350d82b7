/**
 * Add or edit a storage in a dialog: its name, its type (from the
 * installed storage plugins), that type's settings drawn from the
 * plugin's schema, whether to create a missing local directory, and
 * whether it is the default storage. A failure the server pins on a
 * field (`config.path`) shows under that field.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, ok } from "../../api/client";
import { CheckboxField } from "../../components/Field";
import { PluginConfigDialog, PluginConfigForm } from "../../components/PluginConfigForm";
import { useT } from "../../i18n";
import { asConfig, fromConfig, type Plugin } from "../../lib/pluginTypes";
import { refreshStorages, storageKey, type Storage, type StorageBody } from "./api";

/** The only type whose root is a directory of this server, which the server can create. */
const LOCAL = "local";

export function StorageDialog({ open, storage, onClose }: { open: boolean; storage?: Storage; onClose: () => void }) {
  const t = useT();
  return (
    <PluginConfigDialog kind="storage" title={t(storage ? "storages.editTitle" : "storages.addTitle")} open={open} onClose={onClose}>
      {(plugins) => <StorageForm plugins={plugins} storage={storage} onDone={onClose} />}
    </PluginConfigDialog>
  );
}

/** Mounted each time the dialog opens, so it starts from the stored values. */
function StorageForm({ plugins, storage, onDone }: { plugins: readonly Plugin[]; storage?: Storage; onDone: () => void }) {
  const t = useT();
  const client = useQueryClient();
  const [createRoot, setCreateRoot] = useState(false);
  const [isDefault, setIsDefault] = useState(storage?.is_default ?? false);
  return (
    <PluginConfigForm
      plugins={plugins}
      stored={storage && { name: storage.name, type: storage.type, config: fromConfig(storage.config) }}
      configField="config"
      labels={{ name: t("storages.name"), type: t("storages.type"), choose: t("storages.chooseType"), noSettings: t("storages.noSettings") }}
      save={({ name, type, config }) => {
        const body: StorageBody = { name, type, config: asConfig(config), is_default: isDefault, create_root: type === LOCAL && createRoot };
        return storage ? ok(api.PUT("/api/storage-locations/{id}", { params: { path: { id: storage.id } }, body })) : ok(api.POST("/api/storage-locations", { body }));
      }}
      onSaved={(saved) => {
        client.setQueryData(storageKey(saved.id), saved);
        refreshStorages(client);
      }}
      onDone={onDone}
    >
      {(type) => (
        <>
          {type === LOCAL && <CheckboxField label={t("storages.createRoot")} checked={createRoot} onChange={setCreateRoot} help={t("storages.createRootHelp")} />}
          <CheckboxField label={t("storages.isDefault")} checked={isDefault} onChange={setIsDefault} help={t("storages.isDefaultHelp")} />
        </>
      )}
    </PluginConfigForm>
  );
}
