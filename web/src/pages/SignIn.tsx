/** Sign-in (password, and single sign-on when the server offers it). */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ok } from "../api/client";
import { ApiFailure } from "../api/errors";
import { ME_KEY, setSignedOutHere } from "../auth";
import { FormError, TextField } from "../components/Field";
import { useT } from "../i18n";

export function SignIn({ expired }: { expired?: boolean }) {
  const t = useT();
  const client = useQueryClient();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const options = useQuery({ queryKey: ["auth", "options"], queryFn: () => ok(api.GET("/api/auth/options")) });
  const oidcError = new URLSearchParams(globalThis.location?.search ?? "").get("error");
  const signIn = useMutation({
    mutationFn: () => ok(api.POST("/api/auth/login", { body: { username, password } })),
    onSuccess: async () => {
      setSignedOutHere(false);
      setPassword("");
      await client.invalidateQueries({ queryKey: ME_KEY });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    signIn.mutate();
  };
  const failure = signIn.error instanceof ApiFailure ? signIn.error.message : signIn.error ? String(signIn.error) : undefined;
  return (
    <main id="main" className="signin">
      <h1>{t("auth.title")}</h1>
      {expired && !signIn.isPending && <p role="status">{t("auth.sessionExpired")}</p>}
      {options.data?.setup_required && <p className="note">{t("auth.setupNeeded")}</p>}
      <form onSubmit={submit} noValidate>
        <TextField label={t("auth.username")} value={username} onChange={setUsername} autoComplete="username" required />
        <TextField label={t("auth.password")} value={password} onChange={setPassword} type="password" autoComplete="current-password" required />
        <FormError message={failure ?? oidcError ?? undefined} />
        <button type="submit" disabled={signIn.isPending || !username || !password}>
          {signIn.isPending ? t("auth.signingIn") : t("auth.signIn")}
        </button>
      </form>
      {options.data?.oidc && (
        <p>
          <a className="button secondary" href="/api/auth/oidc/login">
            {t("auth.sso")}
          </a>
        </p>
      )}
    </main>
  );
}
