/**
 * Where a job's backups go: the primary storage, any further ones, and
 * (with more than one) whether every storage gets a copy (`replicate`) or
 * the first that works does (`fallback`).
 */
import { CheckboxField, SelectField } from "../../components/Field";
import { useT, type MessageKey } from "../../i18n";
import { FIELDS, STRATEGIES, withExtra, withPrimary, type JobFormValues, type Strategy } from "./jobForm";
import type { Choice } from "./queries";

const STRATEGY_LABELS: Record<Strategy, MessageKey> = {
  replicate: "jobs.strategy.replicate",
  fallback: "jobs.strategy.fallback",
};

export function StorageFields({
  values,
  onChange,
  storages,
  errors,
}: {
  values: JobFormValues;
  onChange: (values: JobFormValues) => void;
  storages: readonly Choice[];
  errors: Record<string, string | undefined>;
}) {
  const t = useT();
  const others = storages.filter((s) => s.id !== values.storageId);
  return (
    <>
      <SelectField
        label={t("jobs.storage")}
        value={values.storageId}
        onChange={(id) => onChange(withPrimary(values, id))}
        options={[...(values.storageId === "" ? [{ value: "", label: t("jobs.chooseStorage") }] : []), ...storages.map((s) => ({ value: s.id, label: s.name }))]}
        required
        help={t("jobs.storageHelp")}
        error={errors[FIELDS.storage]}
      />
      {others.length > 0 && (
        <fieldset>
          <legend>{t("jobs.moreStorages")}</legend>
          {others.map((s) => (
            <CheckboxField
              key={s.id}
              label={t("jobs.alsoStoreIn", { name: s.name })}
              checked={values.extraStorageIds.includes(s.id)}
              onChange={(on) => onChange(withExtra(values, s.id, on))}
            />
          ))}
          {errors[FIELDS.extraStorages] && <small className="field-error">{errors[FIELDS.extraStorages]}</small>}
        </fieldset>
      )}
      {values.extraStorageIds.length > 0 && (
        <SelectField
          label={t("jobs.strategy")}
          value={values.strategy}
          onChange={(v) => onChange({ ...values, strategy: STRATEGIES.find((s) => s === v) ?? values.strategy })}
          options={STRATEGIES.map((s) => ({ value: s, label: t(STRATEGY_LABELS[s]) }))}
          help={t("jobs.strategyHelp")}
          error={errors[FIELDS.strategy]}
        />
      )}
    </>
  );
}
