/**
 * Roles (users:manage): the built-in ones (admin, operator, viewer),
 * fixed, and custom ones made of a name and a set of permissions. A
 * custom role nobody holds can be deleted; renaming one keeps its users.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ok, type Schemas } from "../../api/client";
import { placeError } from "../../api/errors";
import { CheckList } from "../../components/CheckList";
import { ConfirmAction } from "../../components/ConfirmAction";
import { Dialog, DialogActions } from "../../components/Dialog";
import { FormError, TextField } from "../../components/Field";
import { PageHead } from "../../components/PageHead";
import { Empty, QueryState } from "../../components/State";
import { Status } from "../../components/Status";
import { Table, type Column } from "../../components/Table";
import { useT, type Translate } from "../../i18n";
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
    <CheckList
      legend={legend}
      help={help}
      items={offered.map((p) => ({ value: p, label: `${permissionLabel(t, p)} (${p})` }))}
      checked={checked}
      onChange={onChange}
      error={error}
      className="checks"
    />
  );
}

export function Roles() {
  const t = useT();
  const client = useQueryClient();
  const roles = useQuery({ queryKey: ["roles"], queryFn: () => ok(api.GET("/api/roles")) });
  const [editing, setEditing] = useState<Role | "new" | null>(null);
  const [deleting, setDeleting] = useState<Role | null>(null);
  const columns: Column<Role>[] = [
    { header: t("common.name"), cell: (r) => r.name },
    { header: t("common.type"), cell: (r) => <Status value={r.built_in ? "built_in" : "custom"} label={t(r.built_in ? "settings.roles.builtIn" : "settings.roles.custom")} /> },
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
      <PageHead level={2} id="roles-heading" title={t("settings.tab.roles")}>
        <button type="button" onClick={() => setEditing("new")}>
          {t("settings.roles.add")}
        </button>
      </PageHead>
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
      <ConfirmAction
        item={deleting}
        title={t("common.confirmDeleteTitle", { name: deleting?.name })}
        body={<p>{t("settings.roles.deleteBody")}</p>}
        confirmLabel={t("common.delete")}
        action={(r) => ok(api.DELETE("/api/roles/{id}", { params: { path: { id: r.id } } }))}
        onDone={() => client.invalidateQueries({ queryKey: ["roles"] })}
        onClose={() => setDeleting(null)}
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
  const placed = placeError(save.error, ["name", "description", "permissions"]);
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
      <DialogActions onCancel={onDone} saving={save.isPending} disabled={name.trim() === ""} />
    </form>
  );
}
