/**
 * How a backup is made: compression, and which databases of the server
 * one run backs up (the datasource's own, every one, or a list).
 */
import { useId } from "react";
import { Field, SelectField, TextField } from "../../components/Field";
import { useT, type MessageKey } from "../../i18n";
import { COMPRESSIONS, FIELDS, hasLevel, type DatabasesMode, type JobFormValues } from "./jobForm";

const MODES: [DatabasesMode, MessageKey][] = [
  ["own", "jobs.databases.own"],
  ["all", "jobs.databases.all"],
  ["list", "jobs.databases.list"],
];

export function BackupOptionsFields({
  values,
  onChange,
  errors,
}: {
  values: JobFormValues;
  onChange: (patch: Partial<JobFormValues>) => void;
  errors: Record<string, string | undefined>;
}) {
  const t = useT();
  return (
    <fieldset>
      <legend>{t("jobs.backupOptions")}</legend>
      <div className="form-grid">
        <SelectField
          label={t("jobs.compression")}
          value={values.compression}
          onChange={(v) => onChange({ compression: v })}
          options={COMPRESSIONS.map((c) => ({ value: c, label: c }))}
          help={t("jobs.compressionHelp")}
          error={errors[FIELDS.compression]}
        />
        {hasLevel(values.compression) && (
          <TextField
            label={t("jobs.compressionLevel")}
            type="number"
            inputMode="numeric"
            value={values.compressionLevel}
            onChange={(v) => onChange({ compressionLevel: v })}
            help={values.compression === "gzip" ? t("jobs.levelHelpGzip") : t("jobs.levelHelpZstd")}
            error={errors[FIELDS.compressionLevel]}
          />
        )}
      </div>
      <DatabasesChoice values={values} onChange={onChange} errors={errors} />
      {errors[FIELDS.options] && <small className="field-error">{errors[FIELDS.options]}</small>}
    </fieldset>
  );
}

/** A radio group (fieldset and legend), then the lists the choice needs. */
function DatabasesChoice({
  values,
  onChange,
  errors,
}: {
  values: JobFormValues;
  onChange: (patch: Partial<JobFormValues>) => void;
  errors: Record<string, string | undefined>;
}) {
  const t = useT();
  const name = useId();
  return (
    <fieldset>
      <legend>{t("jobs.databases")}</legend>
      {MODES.map(([mode, label]) => (
        <div className="field checkbox" key={mode}>
          <input
            type="radio"
            id={`${name}-${mode}`}
            name={name}
            value={mode}
            checked={values.databasesMode === mode}
            onChange={() => onChange({ databasesMode: mode })}
          />
          <label htmlFor={`${name}-${mode}`}>{t(label)}</label>
        </div>
      ))}
      {values.databasesMode === "list" && (
        <Field label={t("jobs.databasesList")} help={t("jobs.databasesListHelp")} error={errors[FIELDS.databases]}>
          {(p) => <textarea {...p} rows={3} value={values.databases} onChange={(e) => onChange({ databases: e.target.value })} />}
        </Field>
      )}
      {/* Without the list input, a failure about the selection shows under the choices. */}
      {values.databasesMode !== "list" && errors[FIELDS.databases] && <small className="field-error">{errors[FIELDS.databases]}</small>}
      {values.databasesMode !== "own" && (
        <Field label={t("jobs.excludeDatabases")} help={t("jobs.excludeDatabasesHelp")} error={errors[FIELDS.excludeDatabases]}>
          {(p) => <textarea {...p} rows={2} value={values.excludeDatabases} onChange={(e) => onChange({ excludeDatabases: e.target.value })} />}
        </Field>
      )}
    </fieldset>
  );
}
