/**
 * The typed API client. Types come from `schema.d.ts`, generated from the
 * server's OpenAPI document (`npm run gen:api`), so a renamed field fails
 * the build. Calls go to the page's own origin with the session cookie.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";
import { toFailure } from "./errors";

export type Schemas = components["schemas"];

/** Subscribers told when the server says the caller is not signed in. */
const signedOutListeners = new Set<() => void>();
export function onSignedOut(listener: () => void): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

const unauthorized: Middleware = {
  onResponse({ request, response }) {
    // Sign-in itself answers 401 for a wrong password: that is a form error.
    if (response.status === 401 && !new URL(request.url).pathname.startsWith("/api/auth/")) {
      signedOutListeners.forEach((l) => l());
    }
    return undefined;
  },
};

export const api = createClient<paths>({ baseUrl: globalThis.location?.origin ?? "", credentials: "same-origin" });
api.use(unauthorized);

type Outcome<T> = { data?: T; error?: unknown; response: Response };

/** The data of a successful call, or an `ApiFailure` thrown with the server's message and field. */
export async function ok<T>(call: Promise<Outcome<T>>): Promise<T> {
  let outcome: Outcome<T>;
  try {
    outcome = await call;
  } catch {
    // The browser's own text ("Failed to fetch") says nothing more.
    throw toFailure(0, undefined);
  }
  const { data, error, response } = outcome;
  if (!response.ok) throw toFailure(response.status, error, response.statusText);
  return data as T;
}

/** A download through the browser (the session cookie goes along; the server names the file). */
export function download(url: string): void {
  const a = document.createElement("a");
  a.href = url;
  a.rel = "noopener";
  document.body.appendChild(a);
  a.click();
  a.remove();
}
