/**
 * General settings: the key → value settings stored for clients (this
 * UI's preferences; the server reads none of them). Each value gets an
 * input of its JSON type; Save sends only the keys that changed.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ok } from "../../api/client";
import { placeError } from "../../api/errors";
import { useCan } from "../../auth";
import { CheckboxField, Field, FormError, TextField, useFieldMessage } from "../../components/Field";
import { Empty, QueryState } from "../../components/State";
import { useT } from "../../i18n";
import { changedSettings, newSetting, settingFields, settingValues, type SettingValues } from "./settingsForm";

type Settings = Record<string, unknown>;

export function General() {
  const t = useT();
  // Kept here: a save refreshes the settings, which starts the form again.
  const [notice, setNotice] = useState("");
  const settings = useQuery({
    queryKey: ["settings"],
    queryFn: async () => (await ok(api.GET("/api/system/settings"))) as Settings,
  });
  return (
    <section aria-labelledby="general-heading">
      <h2 id="general-heading">{t("settings.tab.general")}</h2>
      <p className="help">{t("settings.general.intro")}</p>
      <QueryState query={settings}>
        {/* Keyed by content: a save starts the form from what is stored; a refetch that changed nothing keeps the edits. */}
        {(data) => <SettingsForm key={JSON.stringify(data)} settings={data} onNotice={setNotice} />}
      </QueryState>
      <div role="status">{notice && <p className="success">{notice}</p>}</div>
    </section>
  );
}

/** The form over one content of the settings. */
function SettingsForm({ settings, onNotice }: { settings: Settings; onNotice: (text: string) => void }) {
  const t = useT();
  const message = useFieldMessage();
  const can = useCan();
  const writable = can("settings:write");
  const client = useQueryClient();
  const fields = settingFields(settings);
  const [values, setValues] = useState<SettingValues>(() => settingValues(settings));
  const [newKey, setNewKey] = useState("");
  const [newValue, setNewValue] = useState("");
  const [local, setLocal] = useState<Record<string, string>>({});
  const save = useMutation({
    mutationFn: (changes: Settings) => ok(api.PUT("/api/system/settings", { body: changes as Record<string, never> })),
    onSuccess: (saved) => {
      // The answer is every setting as stored now.
      client.setQueryData(["settings"], saved);
      onNotice(t("settings.general.saved"));
    },
  });

  const keys = fields.map((f) => f.key);
  const placed = placeError(save.error, [...keys, newKey.trim()].filter(Boolean));
  const errorOf = (key: string) => {
    const code = local[key] ?? placed.fields[key];
    if (code === "json") return t("settings.general.invalidJson");
    return message(code);
  };
  const newKeyError = (() => {
    const code = local["#new"] ?? placed.fields[newKey.trim()];
    if (code === "key") return t("settings.general.invalidKey");
    if (code === "exists") return t("settings.general.keyExists");
    return code;
  })();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    onNotice("");
    const { changes, errors } = changedSettings(settings, values);
    const added = newSetting(newKey, newValue, settings);
    if (added.error) errors["#new"] = added.error;
    setLocal(errors);
    if (Object.keys(errors).length > 0) return;
    if (added.entry) changes[added.entry[0]] = added.entry[1];
    if (Object.keys(changes).length === 0) {
      onNotice(t("settings.general.unchanged"));
      return;
    }
    save.mutate(changes);
  };

  const set = (key: string, value: string | boolean) => setValues({ ...values, [key]: value });

  return (
    <form onSubmit={submit} noValidate>
      {!writable && <p className="note">{t("settings.general.readOnly")}</p>}
      {/* A disabled fieldset disables every input in it: read-only for a reader without settings:write. */}
      <fieldset disabled={!writable} className={writable ? undefined : "read-only"}>
        <legend>{t("settings.general.stored")}</legend>
        {fields.length === 0 && <Empty>{t("settings.general.empty")}</Empty>}
        <div className="form-grid">
          {fields.map((f) => {
            const v = values[f.key];
            switch (f.kind) {
              case "boolean":
                return <CheckboxField key={f.key} label={f.key} checked={v === true} onChange={(c) => set(f.key, c)} help={placed.fields[f.key]} />;
              case "json":
                return (
                  <Field key={f.key} label={f.key} error={errorOf(f.key)} help={t("settings.general.jsonHelp")}>
                    {(p) => <textarea {...p} rows={4} spellCheck={false} value={String(v ?? "")} onChange={(e) => set(f.key, e.target.value)} />}
                  </Field>
                );
              default:
                return (
                  <TextField
                    key={f.key}
                    label={f.key}
                    value={String(v ?? "")}
                    onChange={(s) => set(f.key, s)}
                    inputMode={f.kind === "number" ? "numeric" : undefined}
                    error={errorOf(f.key)}
                    autoComplete="off"
                  />
                );
            }
          })}
        </div>
      </fieldset>
      {writable && (
        <fieldset>
          <legend>{t("settings.general.add")}</legend>
          <div className="form-grid">
            <TextField label={t("settings.general.newKey")} value={newKey} onChange={setNewKey} help={t("settings.general.newKeyHelp")} error={newKeyError} autoComplete="off" />
            <TextField label={t("settings.general.newValue")} value={newValue} onChange={setNewValue} help={t("settings.general.newValueHelp")} autoComplete="off" />
          </div>
        </fieldset>
      )}
      <FormError message={placed.general} />
      {writable && (
        <div className="actions">
          <button type="submit" disabled={save.isPending}>
            {save.isPending ? t("common.saving") : t("common.save")}
          </button>
        </div>
      )}
    </form>
  );
}
