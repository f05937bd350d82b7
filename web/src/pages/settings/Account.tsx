/**
 * One's own account: who is signed in, a password change (which ends
 * every other session of theirs; the server sends this browser a new
 * cookie), and the sessions open, each revocable but this one (signing
 * out does that).
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ok, type Schemas } from "../../api/client";
import { placeError } from "../../api/errors";
import { ME_KEY, useCan, useMe } from "../../auth";
import { useDateTime } from "../../components/dates";
import { FormError, TextField } from "../../components/Field";
import { Empty, ErrorNote, QueryState } from "../../components/State";
import { Status } from "../../components/Status";
import { Table, type Column } from "../../components/Table";
import { useT } from "../../i18n";

type Session = Schemas["SessionView"];

export function Account() {
  const t = useT();
  const me = useMe();
  return (
    <>
      <section aria-labelledby="account-heading">
        <h2 id="account-heading">{t("settings.tab.account")}</h2>
        <dl className="facts">
          <dt>{t("settings.account.username")}</dt>
          <dd>{me.username}</dd>
          <dt>{t("settings.account.role")}</dt>
          <dd>{me.role}</dd>
          <dt>{t("settings.account.via")}</dt>
          <dd>{me.via === "token" ? t("settings.account.viaToken", { name: me.token ?? "" }) : t("settings.account.viaSession")}</dd>
          <dt>{t("settings.account.permissions")}</dt>
          <dd>
            <span className="codes">
              {me.permissions.map((p) => (
                <code key={p}>{p}</code>
              ))}
            </span>
          </dd>
        </dl>
      </section>
      <PasswordChange />
      <Sessions />
    </>
  );
}

function PasswordChange() {
  const t = useT();
  const me = useMe();
  const client = useQueryClient();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const change = useMutation({
    mutationFn: () => ok(api.PUT("/api/auth/password", { body: { current_password: current, new_password: next } })),
    onSuccess: (me) => {
      client.setQueryData(ME_KEY, me);
      client.invalidateQueries({ queryKey: ["sessions"] });
      setCurrent("");
      setNext("");
      setConfirm("");
    },
  });
  const placed = placeError(change.error, ["current_password", "new_password"]);
  const differ = confirm !== "" && confirm !== next;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!differ) change.mutate();
  };
  return (
    <section aria-labelledby="password-heading">
      <h2 id="password-heading">{t("settings.account.changePassword")}</h2>
      <form onSubmit={submit} noValidate className="panel">
        {/* A hidden username lets password managers file the new password under the right account. */}
        <input type="text" name="username" autoComplete="username" value={me.username} readOnly hidden />
        <div className="form-grid">
          <TextField
            label={t("settings.account.currentPassword")}
            type="password"
            value={current}
            onChange={setCurrent}
            autoComplete="current-password"
            error={placed.fields.current_password}
            required
          />
          <TextField
            label={t("settings.account.newPassword")}
            type="password"
            value={next}
            onChange={setNext}
            autoComplete="new-password"
            help={t("auth.passwordHelp")}
            error={placed.fields.new_password}
            required
          />
          <TextField
            label={t("auth.confirmPassword")}
            type="password"
            value={confirm}
            onChange={setConfirm}
            autoComplete="new-password"
            error={differ ? t("auth.passwordsDiffer") : undefined}
            required
          />
        </div>
        <FormError message={placed.general} />
        <div role="status">{change.isSuccess && <p className="success">{t("settings.account.passwordChanged")}</p>}</div>
        <div className="actions">
          <button type="submit" disabled={change.isPending || current === "" || next === "" || confirm === "" || differ}>
            {t("settings.account.changePassword")}
          </button>
        </div>
      </form>
    </section>
  );
}

function Sessions() {
  const t = useT();
  const when = useDateTime();
  const can = useCan();
  const client = useQueryClient();
  const sessions = useQuery({ queryKey: ["sessions"], queryFn: () => ok(api.GET("/api/auth/sessions")) });
  const revoke = useMutation({
    mutationFn: (s: Session) => ok(api.DELETE("/api/auth/sessions/{id}", { params: { path: { id: s.id } } })),
    onSettled: () => client.invalidateQueries({ queryKey: ["sessions"] }),
  });
  const columns: Column<Session>[] = [];
  // With users:manage the list holds everyone's sessions: say whose.
  if (can("users:manage")) columns.push({ header: t("settings.account.user"), cell: (s) => s.username });
  columns.push(
    { header: t("settings.account.client"), cell: (s) => s.client ?? "—" },
    { header: t("settings.account.userAgent"), cell: (s) => s.user_agent ?? "—" },
    { header: t("common.created"), cell: (s) => when(s.created_at) },
    { header: t("settings.account.lastSeen"), cell: (s) => when(s.last_seen_at) },
    { header: t("settings.account.expires"), cell: (s) => when(s.expires_at) },
    {
      header: t("common.actions"),
      cell: (s) =>
        s.current ? (
          <Status value="current" label={t("settings.account.thisSession")} />
        ) : (
          <button type="button" className="secondary" disabled={revoke.isPending && revoke.variables?.id === s.id} onClick={() => revoke.mutate(s)}>
            {t("settings.account.revoke")}
          </button>
        ),
    },
  );
  return (
    <section aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">{t("settings.account.sessions")}</h2>
      {revoke.error && <ErrorNote error={revoke.error} />}
      <QueryState query={sessions}>
        {(page) => (
          <Table caption={t("settings.account.sessions")} columns={columns} rows={page.data} rowKey={(s) => s.id} empty={<Empty>{t("settings.account.noSessions")}</Empty>} />
        )}
      </QueryState>
    </section>
  );
}
