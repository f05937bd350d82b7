/**
 * The OpenAPI document types a job's `retention_policy` and
 * `backup_options` as free objects (`Record<string, never>`: the server
 * checks them itself, naming the bad field). This is the one place the
 * form's typed objects are handed over as such.
 */
export function freeObject(value: object): Record<string, never> {
  return value as Record<string, never>;
}
