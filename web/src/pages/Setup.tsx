/** First run: the link in the server's log (`/setup?token=…`) creates the first administrator. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { ME_KEY } from "../auth";
import { api, ok } from "../api/client";
import { placeFailure } from "../api/errors";
import { FormError, TextField } from "../components/Field";
import { useT } from "../i18n";

export function Setup() {
  const t = useT();
  const [params] = useSearchParams();
  const [token, setToken] = useState(params.get("token") ?? "");
  const [username, setUsername] = useState("admin");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const client = useQueryClient();
  const navigate = useNavigate();
  // The server signs the new administrator in: go straight to the app.
  const setup = useMutation({
    mutationFn: () => ok(api.POST("/api/auth/setup", { body: { token, username, password } })),
    onSuccess: async (me) => {
      client.setQueryData(ME_KEY, me);
      navigate("/", { replace: true });
    },
  });
  const options = useQuery({ queryKey: ["auth", "options"], queryFn: () => ok(api.GET("/api/auth/options")) });
  const placed = setup.error ? placeFailure(setup.error, ["token", "username", "password"]) : { fields: {} as Record<string, string> };
  // A message answers what was sent: editing a field takes it away.
  const edited = (set: (v: string) => void) => (v: string) => {
    set(v);
    if (setup.isError) setup.reset();
  };
  const differ = confirm !== "" && confirm !== password;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!differ) setup.mutate();
  };
  if (options.data && !options.data.setup_required) {
    return (
      <main id="main" className="signin">
        <h1>{t("auth.setupTitle")}</h1>
        <p className="note">{t("auth.setupDone")}</p>
        <Link to="/">{t("auth.signIn")}</Link>
      </main>
    );
  }
  return (
    <main id="main" className="signin">
      <h1>{t("auth.setupTitle")}</h1>
      <form onSubmit={submit} noValidate>
        <TextField label={t("auth.setupToken")} value={token} onChange={edited(setToken)} help={t("auth.setupTokenHelp")} error={placed.fields.token} required />
        <TextField label={t("auth.username")} value={username} onChange={edited(setUsername)} autoComplete="username" error={placed.fields.username} required />
        <TextField label={t("auth.password")} value={password} onChange={edited(setPassword)} type="password" autoComplete="new-password" help={t("auth.passwordHelp")} error={placed.fields.password} required />
        <TextField label={t("auth.confirmPassword")} value={confirm} onChange={setConfirm} type="password" autoComplete="new-password" error={differ ? t("auth.passwordsDiffer") : undefined} required />
        <FormError message={placed.general} />
        <button type="submit" disabled={setup.isPending || !token || !password || differ}>
          {t("auth.createAdmin")}
        </button>
      </form>
    </main>
  );
}
