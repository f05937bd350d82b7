/**
 * The API answers every failure as `{"error": {"code", "message", "field"?}}`.
 * `ApiFailure` carries that answer through the UI so a form can show the
 * message next to the field it names, and a page can show the rest.
 */
export class ApiFailure extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    /** The request field the server blamed, e.g. `connection_config.host`. */
    public readonly field?: string,
  ) {
    super(message);
    this.name = "ApiFailure";
  }
}

/** Reads a failed answer; a body that is not the API's error shape still gives a readable failure. */
export function toFailure(status: number, body: unknown, statusText = ""): ApiFailure {
  const error = (body as { error?: unknown } | null | undefined)?.error;
  if (error && typeof error === "object") {
    const e = error as { code?: unknown; message?: unknown; field?: unknown };
    return new ApiFailure(
      status,
      typeof e.code === "string" ? e.code : "error",
      typeof e.message === "string" ? e.message : statusText || `HTTP ${status}`,
      typeof e.field === "string" && e.field !== "" ? e.field : undefined,
    );
  }
  if (status === 0) return new ApiFailure(0, "network", "The server could not be reached.");
  return new ApiFailure(status, "http_" + status, statusText ? `${status} ${statusText}` : `HTTP ${status}`);
}

/**
 * Where a form shows a failure: under the field it names (with `prefix`
 * stripped, so `connection_config.host` lands on the `host` input of a
 * form whose values sit under `connection_config`), or above the form.
 */
export function placeFailure(
  failure: unknown,
  knownFields: readonly string[],
  prefix = "",
): { fields: Record<string, string>; general?: string } {
  if (!(failure instanceof ApiFailure)) {
    return { fields: {}, general: failure instanceof Error ? failure.message : String(failure) };
  }
  const field = failure.field;
  if (field) {
    // The server's messages start with the field's path ("port: must be…"):
    // under the field itself that is said already.
    const bare = failure.message.startsWith(field + ": ") ? failure.message.slice(field.length + 2) : failure.message;
    const candidates = [field];
    if (prefix && field.startsWith(prefix + ".")) candidates.unshift(field.slice(prefix.length + 1));
    // `retention_policy.max_backups` may be shown by a field called that
    // exact path, or by its last segment.
    for (const c of candidates) {
      if (knownFields.includes(c)) return { fields: { [c]: bare } };
    }
    const top = candidates[0].split(/[.[]/)[0];
    if (knownFields.includes(top)) return { fields: { [top]: bare } };
    return { fields: {}, general: `${field}: ${bare}` };
  }
  return { fields: {}, general: failure.message };
}

/** `placeFailure` of a form's last failure, or nothing to show while there is none (`null`: the call has not failed). */
export function placeError(
  failure: unknown,
  knownFields: readonly string[],
  prefix = "",
): { fields: Record<string, string>; general?: string } {
  return failure ? placeFailure(failure, knownFields, prefix) : { fields: {} };
}
