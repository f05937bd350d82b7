/**
 * Roles (users:manage): the built-in ones (admin, operator, viewer),
 * fixed, and custom ones made of a name and a set of permissions. A
 * custom role nobody holds can be deleted; renaming one keeps its users.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ok, type Schemas } from "../../api/client";
import { placeFailure } from "../../api/errors";
import { ConfirmDialog, Dialog } from "../../components/Dialog";
import { CheckboxField, FormError, TextField } from "../../components/Field";
import { Empty, ErrorNote, QueryState } from "../../components/State";
import { Table, type Column } from "../../components/Table";
import { useT, type Translate } from "../../i18n";
import { toggle } from "../notifications/channelForm";
import { Badge } from "../notifications/shared";
import "../notifications/notifications.css";
import { PERMISSIONS, type Permission } from "./access";

type Role = Schemas["Role"];

export const permissionLabel = (t: Translate, p: Permission) => t(`settings.permission.${p}` as const);

/** Permissions as short readable labels, each with its identifier. */
export function PermissionList({ permissions }: { permissions: readonly Permission[] }) {
  const t = useT();
  if (permissions.length === 0) return <>{t("common.none")}</>;
  return (
    <ul className="rules">
      {PERMISSIONS.filter((p) => permissions.includes(p)).map((p) => (
        <li key={p}>
          {permissionLabel(t, p)} <code>{p}</code>
        </li>
      ))}
    </ul>
  );
}

/** A checkbox per permission in `offered`, in a fieldset named `legend`. */
export function PermissionChecks({
  legend,
  help,
  offered,
  checked,
  onChange,
  error,
}: {
  legend: string;
  help?: string;
  offered: readonly Permission[];
  checked: readonly Permission[];
  onChange: (next: Permission[]) => void;
  error?: string;
}) {
  const t = useT();
  return (
    <fieldset>
      <legend>{legend}</legend>
      {help && <small className="help">{help}</small>}
      <div className="checks">
        {offered.map((p) => (
          <CheckboxField key={p} label={`${permissionLabel(t, p)} (${p})`} checked={checked.includes(p)} onChange={(on) => onChange(toggle(checked, p, on, PERMISSIONS))} />
        ))}
      </div>
      {error && <small className="field-error">{error}</small>}
    </fieldset>
  );
}

export function Roles() {
  const t = useT();
  const client = useQueryClient();
  const roles = useQuery({ queryKey: ["roles"], queryFn: () => ok(api.GET("/api/roles")) });
  const [editing, setEditing] = useState<Role | "new" | null>(null);
  const [deleting, setDeleting] = useState<Role | null>(null);
  const remove = useMutation({
    mutationFn: (r: Role) => ok(api.DELETE("/api/roles/{id}", { params: { path: { id: r.id } } })),
    onSuccess: () => {
      setDeleting(null);
      client.invalidateQueries({ queryKey: ["roles"] });
    },
  });
  const columns: Column<Role>[] = [
    { header: t("common.name"), cell: (r) => r.name },
    { header: t("common.type"), cell: (r) => (r.built_in ? <Badge tone="busy">{t("settings.roles.builtIn")}</Badge> : <Badge tone="muted">{t("settings.roles.custom")}</Badge>) },
    { header: t("settings.roles.description"), cell: (r) => r.description ?? "—" },
    { header: t("settings.roles.permissions"), cell: (r) => <PermissionList permissions={r.permissions} /> },
    {
      header: t("common.actions"),
      cell: (r) =>
        r.built_in ? null : (
          <div className="actions">
            <button type="button" className="secondary" onClick={() => setEditing(r)}>
              {t("common.edit")}
            </button>
            <button type="button" className="secondary" onClick={() => setDeleting(r)}>
              {t("common.delete")}
            </button>
          </div>
        ),
    },
  ];
  return (
    <section aria-labelledby="roles-heading">
      <div className="page-head">
        <h2 id="roles-heading">{t("settings.tab.roles")}</h2>
        <div className="actions">
          <button type="button" onClick={() => setEditing("new")}>
            {t("settings.roles.add")}
          </button>
        </div>
      </div>
      <p className="help">{t("settings.roles.intro")}</p>
      <QueryState query={roles}>
        {(page) => <Table caption={t("settings.tab.roles")} columns={columns} rows={page.data} rowKey={(r) => r.id} empty={<Empty>{t("settings.roles.empty")}</Empty>} />}
      </QueryState>
      <Dialog
        title={editing === "new" ? t("settings.roles.add") : t("settings.roles.editTitle", { name: editing?.name })}
        open={editing !== null}
        onClose={() => setEditing(null)}
        wide
      >
        {editing !== null && <RoleForm role={editing === "new" ? undefined : editing} onDone={() => setEditing(null)} />}
      </Dialog>
      <ConfirmDialog
        open={deleting !== null}
        title={t("common.confirmDeleteTitle", { name: deleting?.name })}
        body={<p>{t("settings.roles.deleteBody")}</p>}
        confirmLabel={t("common.delete")}
        busy={remove.isPending}
        error={remove.error ? <ErrorNote error={remove.error} /> : undefined}
        onConfirm={() => deleting && remove.mutate(deleting)}
        onClose={() => {
          setDeleting(null);
          remove.reset();
        }}
      />
    </section>
  );
}

function RoleForm({ role, onDone }: { role?: Role; onDone: () => void }) {
  const t = useT();
  const client = useQueryClient();
  const [name, setName] = useState(role?.name ?? "");
  const [description, setDescription] = useState(role?.description ?? "");
  const [permissions, setPermissions] = useState<Permission[]>(role ? [...role.permissions] : []);
  const save = useMutation({
    mutationFn: () => {
      const body = { name: name.trim(), description: description.trim() === "" ? null : description.trim(), permissions };
      return role ? ok(api.PUT("/api/roles/{id}", { params: { path: { id: role.id } }, body })) : ok(api.POST("/api/roles", { body }));
    },
    onSuccess: () => {
      client.invalidateQueries({ queryKey: ["roles"] });
      // A renamed role is renamed on its users too.
      client.invalidateQueries({ queryKey: ["users"] });
      onDone();
    },
  });
  const placed = save.error ? placeFailure(save.error, ["name", "description", "permissions"]) : { fields: {} as Record<string, string>, general: undefined };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim() !== "") save.mutate();
  };
  return (
    <form onSubmit={submit} noValidate>
      <div className="form-grid">
        <TextField label={t("common.name")} value={name} onChange={setName} autoComplete="off" error={placed.fields.name} required />
        <TextField label={t("settings.roles.description")} value={description} onChange={setDescription} autoComplete="off" error={placed.fields.description} />
      </div>
      <PermissionChecks
        legend={t("settings.roles.permissions")}
        help={t("settings.roles.permissionsHelp")}
        offered={PERMISSIONS}
        checked={permissions}
        onChange={setPermissions}
        error={placed.fields.permissions}
      />
      <FormError message={placed.general} />
      <div className="actions end">
        <button type="button" className="secondary" onClick={onDone}>
          {t("common.cancel")}
        </button>
        <button type="submit" disabled={save.isPending || name.trim() === ""}>
          {save.isPending ? t("common.saving") : t("common.save")}
        </button>
      </div>
    </form>
  );
}
