/**
 * Add or edit a datasource in a dialog: its name, its engine type (from
 * the installed engine plugins) and that engine's settings, drawn from
 * the plugin's configuration schema. A failure the server pins on a field
 * (`connection_config.host`) shows under that field.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ok } from "../../api/client";
import { placeFailure } from "../../api/errors";
import { Dialog } from "../../components/Dialog";
import { FormError, TextField, useFieldMessage } from "../../components/Field";
import { QueryState } from "../../components/State";
import { useT } from "../../i18n";
import { asConfig, datasourceKey, datasourcesKey, fromConfig, type Datasource, type DatasourceBody } from "./api";
import { PluginSettings } from "./shared/PluginSettings";
import type { Plugin } from "./shared/pluginTypes";
import { usePluginConfig } from "./shared/usePluginConfig";
import { usePlugins } from "./shared/usePlugins";

export function DatasourceDialog({
  open,
  datasource,
  onClose,
}: {
  open: boolean;
  /** The datasource to edit; none to add one. */
  datasource?: Datasource;
  onClose: () => void;
}) {
  const t = useT();
  const plugins = usePlugins("engine");
  return (
    <Dialog title={t(datasource ? "datasources.editTitle" : "datasources.addTitle")} open={open} onClose={onClose}>
      <QueryState query={plugins}>{(list) => <DatasourceForm plugins={list} datasource={datasource} onDone={onClose} />}</QueryState>
    </Dialog>
  );
}

/** Mounted each time the dialog opens (the dialog renders its content only while open), so it starts from the stored values. */
function DatasourceForm({ plugins, datasource, onDone }: { plugins: readonly Plugin[]; datasource?: Datasource; onDone: () => void }) {
  const t = useT();
  const message = useFieldMessage();
  const client = useQueryClient();
  const [name, setName] = useState(datasource?.name ?? "");
  const [general, setGeneral] = useState<string>();
  const form = usePluginConfig(plugins, datasource && { type: datasource.type, config: fromConfig(datasource.connection_config) });

  const save = useMutation({
    mutationFn: (body: DatasourceBody) =>
      datasource ? ok(api.PUT("/api/datasources/{id}", { params: { path: { id: datasource.id } }, body })) : ok(api.POST("/api/datasources", { body })),
    onSuccess: (saved) => {
      client.setQueryData(datasourceKey(saved.id), saved);
      client.invalidateQueries({ queryKey: datasourcesKey });
      onDone();
    },
    onError: (error) => {
      const placed = placeFailure(error, ["name", "type", ...form.fields.map((f) => f.name)], "connection_config");
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
    if (Object.keys(errors).length === 0) save.mutate({ name: name.trim(), type: form.type, connection_config: asConfig(config) });
  };

  return (
    <form onSubmit={submit} noValidate>
      <FormError message={general} />
      <TextField label={t("datasources.name")} value={name} onChange={setName} error={message(form.errors.name)} autoComplete="off" required />
      <PluginSettings
        plugins={plugins}
        form={form}
        storedType={datasource?.type}
        labels={{ type: t("datasources.type"), choose: t("datasources.chooseType"), help: t("datasources.typeHelp"), noSettings: t("datasources.noSettings") }}
      />
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
