/**
 * API tokens: for scripts and other machines (`Authorization: Bearer`).
 * A token carries at most its owner's permissions (none checked: its
 * owner's role, whatever it is when used). Its secret is shown once, at
 * creation; the list shows only its first characters.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { api, ok, type Schemas } from "../../api/client";
import { placeError } from "../../api/errors";
import { useCan, useMe } from "../../auth";
import { ConfirmAction } from "../../components/ConfirmAction";
import { useWhen } from "../../components/dates";
import { Dialog, DialogActions } from "../../components/Dialog";
import { Field, FormError, TextField, useFieldMessage } from "../../components/Field";
import { PageHead } from "../../components/PageHead";
import { Empty, QueryState } from "../../components/State";
import { Table, type Column } from "../../components/Table";
import { useT } from "../../i18n";
import { expiryFromDays, grantable, MAX_TOKEN_DAYS, type Permission } from "./access";
import { PermissionChecks, PermissionList } from "./Roles";

type Token = Schemas["TokenView"];
type Created = Schemas["CreatedToken"];

export function Tokens() {
  const t = useT();
  // "Never" for a token not used yet, or one that does not expire.
  const when = useWhen();
  const me = useMe();
  const can = useCan();
  const client = useQueryClient();
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<Token | null>(null);
  const tokens = useQuery({ queryKey: ["tokens"], queryFn: () => ok(api.GET("/api/tokens")) });
  // A token cannot make tokens: the server takes them from a signed-in session only.
  const mayCreate = me.via !== "token";

  const columns: Column<Token>[] = [{ header: t("common.name"), cell: (tk) => tk.name }];
  // With users:manage the list holds everyone's tokens: say whose.
  if (can("users:manage")) columns.push({ header: t("settings.tokens.owner"), cell: (tk) => tk.username });
  columns.push(
    { header: t("settings.tokens.prefix"), cell: (tk) => <code>{tk.prefix}…</code> },
    { header: t("settings.roles.permissions"), cell: (tk) => (tk.permissions ? <PermissionList permissions={tk.permissions} /> : t("settings.tokens.roleDefault")) },
    { header: t("common.created"), cell: (tk) => when(tk.created_at) },
    { header: t("settings.tokens.lastUsed"), cell: (tk) => when(tk.last_used_at) },
    { header: t("settings.tokens.expires"), cell: (tk) => when(tk.expires_at) },
    {
      header: t("common.actions"),
      cell: (tk) => (
        <button type="button" className="secondary" onClick={() => setRevoking(tk)}>
          {t("settings.tokens.revoke")}
        </button>
      ),
    },
  );

  return (
    <section aria-labelledby="tokens-heading">
      <PageHead level={2} id="tokens-heading" title={t("settings.tab.tokens")}>
        {mayCreate && (
          <button type="button" onClick={() => setCreating(true)}>
            {t("settings.tokens.create")}
          </button>
        )}
      </PageHead>
      <p className="help">{t("settings.tokens.intro")}</p>
      {!mayCreate && <p className="note">{t("settings.tokens.fromSession")}</p>}
      <QueryState query={tokens}>
        {(page) => <Table caption={t("settings.tab.tokens")} columns={columns} rows={page.data} rowKey={(tk) => tk.id} empty={<Empty>{t("settings.tokens.empty")}</Empty>} />}
      </QueryState>
      <Dialog title={t("settings.tokens.create")} open={creating} onClose={() => setCreating(false)}>
        {creating && <TokenForm own={me.permissions} onDone={() => setCreating(false)} />}
      </Dialog>
      <ConfirmAction
        item={revoking}
        title={t("settings.tokens.revokeTitle", { name: revoking?.name })}
        body={<p>{t("settings.tokens.revokeBody")}</p>}
        confirmLabel={t("settings.tokens.revoke")}
        action={(tk) => ok(api.DELETE("/api/tokens/{id}", { params: { path: { id: tk.id } } }))}
        onDone={() => client.invalidateQueries({ queryKey: ["tokens"] })}
        onClose={() => setRevoking(null)}
      />
    </section>
  );
}

/** The new token's form, then (once created) its secret, shown this once. */
function TokenForm({ own, onDone }: { own: readonly Permission[]; onDone: () => void }) {
  const t = useT();
  const message = useFieldMessage();
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [permissions, setPermissions] = useState<Permission[]>([]);
  const [days, setDays] = useState("90");
  const [daysError, setDaysError] = useState<string>();
  const create = useMutation({
    mutationFn: (expiresAt: string | undefined) =>
      ok(
        api.POST("/api/tokens", {
          body: { name: name.trim(), permissions: permissions.length > 0 ? permissions : null, expires_at: expiresAt ?? null },
        }),
      ),
    onSuccess: () => client.invalidateQueries({ queryKey: ["tokens"] }),
  });
  if (create.data) return <CreatedToken created={create.data} onDone={onDone} />;

  const placed = placeError(create.error, ["name", "permissions", "expires_at"]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const expiry = expiryFromDays(days);
    setDaysError(expiry.error);
    if (!expiry.error && name.trim() !== "") create.mutate(expiry.expiresAt);
  };
  return (
    <form onSubmit={submit} noValidate>
      <TextField label={t("common.name")} value={name} onChange={setName} autoComplete="off" help={t("settings.tokens.nameHelp")} error={placed.fields.name} required />
      <PermissionChecks
        legend={t("settings.roles.permissions")}
        help={t("settings.tokens.permissionsHelp")}
        offered={grantable(own)}
        checked={permissions}
        onChange={setPermissions}
        error={placed.fields.permissions}
      />
      <TextField
        label={t("settings.tokens.expiryDays")}
        value={days}
        onChange={setDays}
        inputMode="numeric"
        help={t("settings.tokens.expiryHelp", { max: MAX_TOKEN_DAYS })}
        error={message(daysError) ?? placed.fields.expires_at}
      />
      <FormError message={placed.general} />
      <DialogActions onCancel={onDone} saving={create.isPending} disabled={name.trim() === ""} submitLabel={t("settings.tokens.create")} />
    </form>
  );
}

/** The token's secret, once: read-only, with a Copy button and the warning that it will not be shown again. */
function CreatedToken({ created, onDone }: { created: Created; onDone: () => void }) {
  const t = useT();
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<"" | "yes" | "select">("");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.token);
      setCopied("yes");
    } catch {
      // No clipboard (a page not served over HTTPS): select it for Ctrl+C.
      input.current?.select();
      setCopied("select");
    }
  };
  return (
    <div>
      <p className="note" role="alert">
        {t("settings.tokens.once", { name: created.name })}
      </p>
      <Field label={t("settings.tokens.token")} help={t("settings.tokens.usage")}>
        {(p) => <input {...p} ref={input} type="text" readOnly value={created.token} spellCheck={false} autoComplete="off" onFocus={(e) => e.target.select()} />}
      </Field>
      <div className="actions end">
        <span role="status">{copied === "yes" ? t("common.copied") : copied === "select" ? t("settings.tokens.copyManually") : ""}</span>
        <button type="button" className="secondary" onClick={copy}>
          {t("settings.tokens.copy")}
        </button>
        <button type="button" onClick={onDone}>
          {t("settings.tokens.done")}
        </button>
      </div>
    </div>
  );
}
