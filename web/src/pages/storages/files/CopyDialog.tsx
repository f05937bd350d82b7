/**
 * Copies one object to another path of the same storage (the API copies
 * inside a storage only: `{from, to}`). A failure the server pins on
 * `to` (a backup folder, a bad key) shows under the destination.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ok } from "../../../api/client";
import { placeFailure } from "../../../api/errors";
import { Dialog } from "../../../components/Dialog";
import { FormError, TextField, useFieldMessage } from "../../../components/Field";
import { useT } from "../../../i18n";
import { filesKey, type FileEntry, type Storage } from "../api";
import { baseName, copyTarget, entryName, normalize } from "./paths";

export function CopyDialog({ storage, entry, onClose, onCopied }: { storage: Storage; entry: FileEntry | null; onClose: () => void; onCopied: (to: string) => void }) {
  const t = useT();
  return (
    <Dialog title={t("storages.copyTitle", { name: entry ? entryName(entry) : "" })} open={entry !== null} onClose={onClose}>
      {entry && <CopyForm storage={storage} entry={entry} onClose={onClose} onCopied={onCopied} />}
    </Dialog>
  );
}

function CopyForm({ storage, entry, onClose, onCopied }: { storage: Storage; entry: FileEntry; onClose: () => void; onCopied: (to: string) => void }) {
  const t = useT();
  const message = useFieldMessage();
  const client = useQueryClient();
  const [to, setTo] = useState(() => copyTarget(entry.key));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string>();
  const copy = useMutation({
    mutationFn: (target: string) => ok(api.POST("/api/storage-locations/{id}/files/copy", { params: { path: { id: storage.id } }, body: { from: entry.key, to: target } })),
    onSuccess: (_, target) => {
      client.invalidateQueries({ queryKey: filesKey(storage.id) });
      onCopied(target);
    },
    onError: (error) => {
      const placed = placeFailure(error, ["to"]);
      setErrors(placed.fields);
      setGeneral(placed.general);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const target = normalize(to);
    setGeneral(undefined);
    setErrors(target === "" ? { to: "required" } : {});
    if (target !== "") copy.mutate(target);
  };
  return (
    <form onSubmit={submit} noValidate>
      <p>{t("storages.copyInto", { storage: storage.name })}</p>
      <FormError message={general} />
      <TextField
        label={t("storages.destination")}
        value={to}
        onChange={setTo}
        error={message(errors.to)}
        help={t("storages.destinationHelp", { name: baseName(entry.key) })}
        autoComplete="off"
        required
      />
      <div className="actions end">
        <button type="button" className="secondary" onClick={onClose}>
          {t("common.cancel")}
        </button>
        <button type="submit" disabled={copy.isPending}>
          {t("storages.copy")}
        </button>
      </div>
    </form>
  );
}
