import { useMemo, useState } from "react";
import { buildConfig, initialValues, type FormValues } from "../lib/schemaForm";
import { fieldsFor, type Plugin } from "../lib/pluginTypes";

/** What is stored, for an edit: the type and its (redacted) configuration. */
export type StoredConfig = { type: string; config: Record<string, unknown> };

/**
 * The state of a "type + that type's settings" form. Choosing another
 * type starts its fields afresh (from the schema's defaults), except that
 * going back to the stored type brings the stored settings back. Secret
 * inputs always start empty; on an edit of the stored type, an empty one
 * keeps the stored secret (`buildConfig` leaves it out).
 */
export function usePluginConfig(plugins: readonly Plugin[], stored?: StoredConfig) {
  const [type, setType] = useState(stored?.type ?? "");
  const [values, setValues] = useState<FormValues>(() => initialValues(fieldsFor(plugins, stored?.type ?? ""), stored?.config));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const fields = useMemo(() => fieldsFor(plugins, type), [plugins, type]);
  const editing = stored !== undefined && type === stored.type;

  return {
    type,
    fields,
    values,
    errors,
    editing,
    setErrors,
    chooseType(next: string) {
      setType(next);
      setValues(initialValues(fieldsFor(plugins, next), stored && next === stored.type ? stored.config : undefined));
      setErrors({});
    },
    setValue(name: string, value: string | boolean) {
      setValues((v) => ({ ...v, [name]: value }));
    },
    /** The config to send and the field errors found before sending. */
    build() {
      return buildConfig(fields, values, editing);
    },
  };
}

export type PluginConfigState = ReturnType<typeof usePluginConfig>;
