/**
 * Add or edit a storage in a dialog: its name, its type (from the
 * installed storage plugins), that type's settings drawn from the
 * plugin's schema, whether to create a missing local directory, and
 * whether it is the default storage. A failure the server pins on a
 * field (`config.path`) shows under that field.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ok } from "../../api/client";
import { placeFailure } from "../../api/errors";
import { Dialog } from "../../components/Dialog";
import { CheckboxField, FormError, TextField, useFieldMessage } from "../../components/Field";
import { QueryState } from "../../components/State";
import { useT } from "../../i18n";
import { PluginSettings } from "../datasources/shared/PluginSettings";
import type { Plugin } from "../datasources/shared/pluginTypes";
import { usePluginConfig } from "../datasources/shared/usePluginConfig";
import { usePlugins } from "../datasources/shared/usePlugins";
import { asConfig, fromConfig, refreshStorages, storageKey, type Storage, type StorageBody } from "./api";

/** The only type whose root is a directory of this server, which the server can create. */
const LOCAL = "local";

export function StorageDialog({ open, storage, onClose }: { open: boolean; storage?: Storage; onClose: () => void }) {
  const t = useT();
  const plugins = usePlugins("storage");
  return (
    <Dialog title={t(storage ? "storages.editTitle" : "storages.addTitle")} open={open} onClose={onClose}>
      <QueryState query={plugins}>{(list) => <StorageForm plugins={list} storage={storage} onDone={onClose} />}</QueryState>
    </Dialog>
  );
}

/** Mounted each time the dialog opens, so it starts from the stored values. */
function StorageForm({ plugins, storage, onDone }: { plugins: readonly Plugin[]; storage?: Storage; onDone: () => void }) {
  const t = useT();
  const message = useFieldMessage();
  const client = useQueryClient();
  const [name, setName] = useState(storage?.name ?? "");
  const [createRoot, setCreateRoot] = useState(false);
  const [isDefault, setIsDefault] = useState(storage?.is_default ?? false);
  const [general, setGeneral] = useState<string>();
  const form = usePluginConfig(plugins, storage && { type: storage.type, config: fromConfig(storage.config) });

  const save = useMutation({
    mutationFn: (body: StorageBody) =>
      storage ? ok(api.PUT("/api/storage-locations/{id}", { params: { path: { id: storage.id } }, body })) : ok(api.POST("/api/storage-locations", { body })),
    onSuccess: (saved) => {
      client.setQueryData(storageKey(saved.id), saved);
      refreshStorages(client);
      onDone();
    },
    onError: (error) => {
      const placed = placeFailure(error, ["name", "type", ...form.fields.map((f) => f.name)], "config");
      form.setErrors(placed.fields);
      setGeneral(placed.general);
    },
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const { config, errors } = form.build();
    if (name.trim() === "") errors.name = "required";
    if (form.type === "") errors.type = "required";
    form.setErrors(errors);
    setGeneral(undefined);
    if (Object.keys(errors).length > 0) return;
    save.mutate({ name: name.trim(), type: form.type, config: asConfig(config), is_default: isDefault, create_root: form.type === LOCAL && createRoot });
  };

  return (
    <form onSubmit={submit} noValidate>
      <FormError message={general} />
      <TextField label={t("storages.name")} value={name} onChange={setName} error={message(form.errors.name)} autoComplete="off" required />
      <PluginSettings
        plugins={plugins}
        form={form}
        storedType={storage?.type}
        labels={{ type: t("storages.type"), choose: t("storages.chooseType"), noSettings: t("storages.noSettings") }}
      />
      {form.type === LOCAL && <CheckboxField label={t("storages.createRoot")} checked={createRoot} onChange={setCreateRoot} help={t("storages.createRootHelp")} />}
      <CheckboxField label={t("storages.isDefault")} checked={isDefault} onChange={setIsDefault} help={t("storages.isDefaultHelp")} />
      <div className="actions end">
        <button type="button" className="secondary" onClick={onDone}>
          {t("common.cancel")}
        </button>
        <button type="submit" disabled={save.isPending}>
          {t(save.isPending ? "common.saving" : "common.save")}
        </button>
      </div>
    </form>
  );
}
