/** The inputs of a plugin's configuration, drawn from its JSON Schema (lib/schemaForm.ts). */
import type { FieldSpec, FormValues } from "../lib/schemaForm";
import { useT } from "../i18n";
import { CheckboxField, Field, SelectField, TextField, useFieldMessage } from "./Field";

export function SchemaFields({
  fields,
  values,
  onChange,
  errors,
  editing,
}: {
  fields: readonly FieldSpec[];
  values: FormValues;
  onChange: (name: string, value: string | boolean) => void;
  errors: Record<string, string>;
  editing: boolean;
}) {
  const t = useT();
  const message = useFieldMessage();
  return (
    <>
      {fields.map((f) => {
        const error = message(errors[f.name]);
        const value = values[f.name];
        switch (f.kind) {
          case "boolean":
            return <CheckboxField key={f.name} label={f.label} checked={value === true} onChange={(v) => onChange(f.name, v)} help={f.description} />;
          case "select":
            return (
              <SelectField
                key={f.name}
                label={f.label}
                value={String(value ?? "")}
                onChange={(v) => onChange(f.name, v)}
                options={[...(f.required ? [] : [{ value: "", label: "—" }]), ...(f.options ?? []).map((o) => ({ value: o, label: o }))]}
                error={error}
                help={f.description}
              />
            );
          case "list":
            return (
              <Field key={f.name} label={f.label} error={error} help={f.description ?? t("common.onePerLine")}>
                {(p) => <textarea {...p} rows={3} value={String(value ?? "")} onChange={(e) => onChange(f.name, e.target.value)} />}
              </Field>
            );
          default:
            return (
              <TextField
                key={f.name}
                label={f.label}
                value={String(value ?? "")}
                onChange={(v) => onChange(f.name, v)}
                error={error}
                type={f.kind === "secret" ? "password" : "text"}
                inputMode={f.kind === "integer" ? "numeric" : undefined}
                autoComplete={f.kind === "secret" ? "new-password" : "off"}
                required={f.required && !(editing && f.kind === "secret")}
                help={f.kind === "secret" && editing ? t("common.secretKept") : f.description}
              />
            );
        }
      })}
    </>
  );
}
