/**
 * Users (users:manage): who may sign in, with which role. The server
 * keeps the rules (nobody changes their own role, the last admin stays,
 * nobody hands out a role with more than they hold); its refusals are
 * shown as it words them.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ok, type Schemas } from "../../api/client";
import { placeError } from "../../api/errors";
import { useMe } from "../../auth";
import { ConfirmAction } from "../../components/ConfirmAction";
import { useDateTime } from "../../components/dates";
import { Dialog, DialogActions } from "../../components/Dialog";
import { FormError, SelectField, TextField } from "../../components/Field";
import { PageHead } from "../../components/PageHead";
import { Empty, ErrorNote } from "../../components/State";
import { PagedTable, type Column } from "../../components/Table";
import { useT } from "../../i18n";
import { userChange } from "./access";

type User = Schemas["User"];
type Role = Schemas["Role"];

export function Users() {
  const t = useT();
  const when = useDateTime();
  const me = useMe();
  const client = useQueryClient();
  const [page, setPage] = useState(1);
  const [editing, setEditing] = useState<User | "new" | null>(null);
  const [deleting, setDeleting] = useState<User | null>(null);
  const users = useQuery({
    queryKey: ["users", page],
    queryFn: () => ok(api.GET("/api/users", { params: { query: { page, limit: 50 } } })),
    placeholderData: keepPreviousData,
  });
  const roles = useQuery({ queryKey: ["roles"], queryFn: () => ok(api.GET("/api/roles")) });

  const columns: Column<User>[] = [
    { header: t("settings.users.username"), cell: (u) => (u.username === me.username ? t("settings.users.you", { name: u.username }) : u.username) },
    { header: t("settings.users.role"), cell: (u) => u.role },
    { header: t("settings.users.signIn"), cell: (u) => (u.oidc_subject ? t("settings.users.sso") : t("settings.users.local")) },
    { header: t("common.created"), cell: (u) => when(u.created_at) },
    {
      header: t("common.actions"),
      cell: (u) => (
        <div className="actions">
          <button type="button" className="secondary" onClick={() => setEditing(u)}>
            {t("common.edit")}
          </button>
          <button type="button" className="secondary" onClick={() => setDeleting(u)}>
            {t("common.delete")}
          </button>
        </div>
      ),
    },
  ];

  return (
    <section aria-labelledby="users-heading">
      <PageHead level={2} id="users-heading" title={t("settings.tab.users")}>
        <button type="button" onClick={() => setEditing("new")}>
          {t("settings.users.add")}
        </button>
      </PageHead>
      <PagedTable query={users} onPage={setPage} caption={t("settings.tab.users")} columns={columns} rowKey={(u) => u.id} empty={<Empty>{t("settings.users.empty")}</Empty>} />
      <Dialog
        title={editing === "new" ? t("settings.users.add") : t("settings.users.editTitle", { name: editing?.username })}
        open={editing !== null}
        onClose={() => setEditing(null)}
      >
        {editing !== null && (
          <UserForm user={editing === "new" ? undefined : editing} roles={roles.data?.data ?? []} rolesError={roles.error} onDone={() => setEditing(null)} />
        )}
      </Dialog>
      <ConfirmAction
        item={deleting}
        title={t("common.confirmDeleteTitle", { name: deleting?.username })}
        body={<p>{t("settings.users.deleteBody")}</p>}
        confirmLabel={t("common.delete")}
        action={(u) => ok(api.DELETE("/api/users/{id}", { params: { path: { id: u.id } } }))}
        onDone={() => client.invalidateQueries({ queryKey: ["users"] })}
        onClose={() => setDeleting(null)}
      />
    </section>
  );
}

/** Adding a user (name, role, password) or changing one (the same, the password only when typed). */
function UserForm({ user, roles, rolesError, onDone }: { user?: User; roles: readonly Role[]; rolesError: unknown; onDone: () => void }) {
  const t = useT();
  const me = useMe();
  const client = useQueryClient();
  const self = user?.username === me.username;
  const [username, setUsername] = useState(user?.username ?? "");
  const [role, setRole] = useState(user?.role ?? roles.find((r) => r.name === "viewer")?.name ?? roles[0]?.name ?? "");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const save = useMutation({
    mutationFn: () =>
      user
        ? ok(api.PUT("/api/users/{id}", { params: { path: { id: user.id } }, body: userChange(user, { username, role, password }) }))
        : ok(api.POST("/api/users", { body: { username: username.trim(), role, password } })),
    onSuccess: () => {
      client.invalidateQueries({ queryKey: ["users"] });
      client.invalidateQueries({ queryKey: ["sessions"] });
      onDone();
    },
  });
  const placed = placeError(save.error, ["username", "role", "password"]);
  const differ = confirm !== password;
  const missing = username.trim() === "" || role === "" || (!user && password === "");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!differ && !missing) save.mutate();
  };
  const options = roles.map((r) => ({ value: r.name, label: r.built_in ? r.name : t("settings.users.customRole", { name: r.name }) }));
  if (role && !roles.some((r) => r.name === role)) options.unshift({ value: role, label: role });
  return (
    <form onSubmit={submit} noValidate>
      <TextField label={t("settings.users.username")} value={username} onChange={setUsername} autoComplete="off" error={placed.fields.username} required />
      {self ? (
        <p className="help">{t("settings.users.ownRole", { role })}</p>
      ) : (
        <SelectField label={t("settings.users.role")} value={role} onChange={setRole} options={options} error={placed.fields.role} required />
      )}
      {rolesError ? <ErrorNote error={rolesError} /> : null}
      <TextField
        label={user ? t("settings.users.newPassword") : t("auth.password")}
        type="password"
        value={password}
        onChange={setPassword}
        autoComplete="new-password"
        help={user ? t("settings.users.newPasswordHelp") : t("auth.passwordHelp")}
        error={placed.fields.password}
        required={!user}
      />
      <TextField
        label={t("auth.confirmPassword")}
        type="password"
        value={confirm}
        onChange={setConfirm}
        autoComplete="new-password"
        error={confirm !== "" && differ ? t("auth.passwordsDiffer") : undefined}
        required={!user || password !== ""}
      />
      <FormError message={placed.general} />
      <DialogActions onCancel={onDone} saving={save.isPending} disabled={differ || missing} />
    </form>
  );
}
