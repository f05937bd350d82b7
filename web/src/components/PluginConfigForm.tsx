/**
 * Adding or editing a thing a plugin serves (a datasource, a storage) in a
 * dialog: its name, its type (from the installed plugins of one kind) and
 * that type's settings, drawn from the plugin's configuration schema. A
 * failure the server pins on a setting (`connection_config.host`) shows
 * under that setting.
 */
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent, type ReactNode } from "react";
import { placeFailure } from "../api/errors";
import { typeOptions, type Plugin } from "../lib/pluginTypes";
import { Dialog, DialogActions } from "./Dialog";
import { FormError, SelectField, TextField, useFieldMessage } from "./Field";
import { SchemaFields } from "./SchemaForm";
import { QueryState } from "./State";
import { usePluginConfig, type PluginConfigState, type StoredConfig } from "./usePluginConfig";
import { usePlugins, type PluginKind } from "./usePlugins";

/** What the form gives the screen to send (the screen adds its own fields and makes the call). */
export type PluginDraft = { name: string; type: string; config: Record<string, unknown> };

export type PluginFormLabels = { name: string; type: string; choose: string; help?: string; noSettings: string };

export function PluginConfigDialog({
  kind,
  title,
  open,
  onClose,
  children,
}: {
  kind: PluginKind;
  title: string;
  open: boolean;
  onClose: () => void;
  /** The form, once the installed plugins are known. */
  children: (plugins: readonly Plugin[]) => ReactNode;
}) {
  const plugins = usePlugins(kind);
  return (
    <Dialog title={title} open={open} onClose={onClose}>
      <QueryState query={plugins}>{children}</QueryState>
    </Dialog>
  );
}

/** Mounted each time the dialog opens (the dialog renders its content only while open), so it starts from the stored values. */
export function PluginConfigForm<S>({
  plugins,
  stored,
  configField,
  labels,
  save,
  onSaved,
  onDone,
  children,
}: {
  plugins: readonly Plugin[];
  /** What is stored, for an edit (its configuration redacted); none to add one. */
  stored?: StoredConfig & { name: string };
  /** Where the request carries the settings (`connection_config`), so a failure under it lands on its input. */
  configField: string;
  labels: PluginFormLabels;
  save: (draft: PluginDraft) => Promise<S>;
  /** What the saved answer changes in the cache; the dialog closes after. */
  onSaved: (saved: S) => void;
  onDone: () => void;
  /** The screen's own inputs, below the settings, for the type chosen. */
  children?: (type: string) => ReactNode;
}) {
  const message = useFieldMessage();
  const [name, setName] = useState(stored?.name ?? "");
  const [general, setGeneral] = useState<string>();
  const form = usePluginConfig(plugins, stored);

  const call = useMutation({
    mutationFn: save,
    onSuccess: (saved) => {
      onSaved(saved);
      onDone();
    },
    onError: (error) => {
      const placed = placeFailure(error, ["name", "type", ...form.fields.map((f) => f.name)], configField);
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
    if (Object.keys(errors).length === 0) call.mutate({ name: name.trim(), type: form.type, config });
  };

  return (
    <form onSubmit={submit} noValidate>
      <FormError message={general} />
      <TextField label={labels.name} value={name} onChange={setName} error={message(form.errors.name)} autoComplete="off" required />
      <PluginSettings plugins={plugins} form={form} storedType={stored?.type} labels={labels} />
      {children?.(form.type)}
      <DialogActions onCancel={onDone} saving={call.isPending} />
    </form>
  );
}

/** The "Type" select and, below it, the chosen plugin's own settings. */
function PluginSettings({
  plugins,
  form,
  storedType,
  labels,
}: {
  plugins: readonly Plugin[];
  form: PluginConfigState;
  /** Kept among the options on an edit even if no plugin provides it any more. */
  storedType?: string;
  labels: PluginFormLabels;
}) {
  const message = useFieldMessage();
  // Until a type is chosen the select offers a blank choice, so nothing
  // is picked silently for the person.
  const options = [
    ...(form.type === "" ? [{ value: "", label: labels.choose }] : []),
    ...typeOptions(plugins, storedType).map((type) => ({ value: type, label: type })),
  ];
  return (
    <>
      <SelectField label={labels.type} value={form.type} onChange={form.chooseType} options={options} error={message(form.errors.type)} help={labels.help} required />
      {form.type !== "" && form.fields.length === 0 && <p className="help">{labels.noSettings}</p>}
      <SchemaFields fields={form.fields} values={form.values} onChange={form.setValue} errors={form.errors} editing={form.editing} />
    </>
  );
}
