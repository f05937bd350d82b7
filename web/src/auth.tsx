/**
 * Who is signed in: `GET /api/auth/me`, shared by every screen. A 401
 * anywhere (session expired or revoked) drops it, and the app shows the
 * sign-in screen again.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useContext, useEffect } from "react";
import { api, ok, onSignedOut, type Schemas } from "./api/client";
import { ApiFailure } from "./api/errors";

export type Me = Schemas["Me"];
export type Permission = Me["permissions"][number];

export const ME_KEY = ["auth", "me"] as const;

/**
 * Whether this tab signed out on purpose: the sign-in form then does not
 * say the session "ended" (it says that when the server ended it).
 */
let signedOutHere = false;
export function setSignedOutHere(value: boolean): void {
  signedOutHere = value;
}
export function signedOutOnPurpose(): boolean {
  return signedOutHere;
}

export function useMeQuery() {
  const client = useQueryClient();
  useEffect(
    () =>
      onSignedOut(() => {
        client.setQueryData(ME_KEY, null);
      }),
    [client],
  );
  return useQuery({
    queryKey: ME_KEY,
    queryFn: async () => {
      // Not signed in: say so without a 401 (browsers log those as errors).
      const options = await ok(api.GET("/api/auth/options"));
      if (!options.signed_in) return null;
      try {
        return await ok(api.GET("/api/auth/me"));
      } catch (e) {
        if (e instanceof ApiFailure && e.status === 401) return null;
        throw e;
      }
    },
    staleTime: 60_000,
    retry: false,
  });
}

export const MeContext = createContext<Me | null>(null);

export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error("useMe outside a signed-in screen");
  return me;
}

/** Whether the signed-in user holds `permission` (the server decides anyway; this hides what would be refused). */
export function useCan(): (permission: Permission) => boolean {
  const me = useContext(MeContext);
  return (permission) => !!me && me.permissions.includes(permission);
}
