/** The "Type" select and, below it, the chosen plugin's own settings. */
import { SelectField, useFieldMessage } from "../../../components/Field";
import { SchemaFields } from "../../../components/SchemaForm";
import { typeOptions, type Plugin } from "./pluginTypes";
import type { PluginConfigState } from "./usePluginConfig";

export function PluginSettings({
  plugins,
  form,
  storedType,
  labels,
}: {
  plugins: readonly Plugin[];
  form: PluginConfigState;
  /** Kept among the options on an edit even if no plugin provides it any more. */
  storedType?: string;
  labels: { type: string; choose: string; help?: string; noSettings: string };
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
