/**
 * Form fields with their label, help and error tied to the input
 * (`aria-describedby`, `aria-invalid`), so the message the server gives
 * for a field is read with the field.
 */
import { useId, type ReactNode } from "react";
import { useT } from "../i18n";

export type FieldProps = {
  label: string;
  error?: string;
  help?: ReactNode;
  children: (props: { id: string; "aria-describedby"?: string; "aria-invalid"?: boolean }) => ReactNode;
};

export function Field({ label, error, help, children }: FieldProps) {
  const id = useId();
  const helpId = help ? id + "-help" : undefined;
  const errorId = error ? id + "-error" : undefined;
  const describedBy = [helpId, errorId].filter(Boolean).join(" ") || undefined;
  return (
    <div className={`field${error ? " has-error" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {children({ id, "aria-describedby": describedBy, "aria-invalid": error ? true : undefined })}
      {help && (
        <small id={helpId} className="help">
          {help}
        </small>
      )}
      {error && (
        <small id={errorId} className="field-error">
          {error}
        </small>
      )}
    </div>
  );
}

/** The messages the client-side checks give (`required`, `max:65535`…) in the reader's language. */
export function useFieldMessage(): (code: string | undefined) => string | undefined {
  const t = useT();
  return (code) => {
    if (!code) return undefined;
    if (code === "required") return t("common.required");
    if (code === "whole number") return t("common.wholeNumber");
    if (code === "number") return t("common.number");
    const [kind, n] = code.split(":");
    if (kind === "min") return t("common.min", { n });
    if (kind === "max") return t("common.max", { n });
    return code;
  };
}

export function TextField({
  label,
  value,
  onChange,
  error,
  help,
  type = "text",
  required,
  autoComplete,
  placeholder,
  inputMode,
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  error?: string;
  help?: ReactNode;
  type?: string;
  required?: boolean;
  autoComplete?: string;
  placeholder?: string;
  inputMode?: "numeric" | "text";
}) {
  return (
    <Field label={label} error={error} help={help}>
      {(p) => (
        <input
          {...p}
          type={type}
          value={value}
          required={required}
          autoComplete={autoComplete}
          placeholder={placeholder}
          inputMode={inputMode}
          onChange={(e) => onChange(e.target.value)}
        />
      )}
    </Field>
  );
}

export function SelectField({
  label,
  value,
  onChange,
  options,
  error,
  help,
  required,
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  options: readonly { value: string; label: string }[];
  error?: string;
  help?: ReactNode;
  required?: boolean;
}) {
  return (
    <Field label={label} error={error} help={help}>
      {(p) => (
        <select {...p} value={value} required={required} onChange={(e) => onChange(e.target.value)}>
          {options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

export function CheckboxField({
  label,
  checked,
  onChange,
  help,
}: {
  label: string;
  checked: boolean;
  onChange: (v: boolean) => void;
  help?: ReactNode;
}) {
  const id = useId();
  return (
    <div className="field checkbox">
      <input id={id} type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} aria-describedby={help ? id + "-help" : undefined} />
      <label htmlFor={id}>{label}</label>
      {help && (
        <small id={id + "-help"} className="help">
          {help}
        </small>
      )}
    </div>
  );
}

/** The form-level error (one the server gave without a field this form shows). */
export function FormError({ message }: { message?: string }) {
  const t = useT();
  if (!message) return null;
  return (
    <div className="error-note" role="alert">
      <strong>{t("common.errorTitle")}</strong>
      <span>{message}</span>
    </div>
  );
}
