/** What a storage test says, in words: the latency and free space the server measured, or its failure. */
import type { Outcome } from "../../components/ActionStatus";
import type { Translate } from "../../i18n";
import { bytes } from "../../lib/format";
import type { StorageTest } from "./api";

/** The API reports free space in decimal gigabytes (10^9 bytes). */
export function gbToBytes(gb: number | null | undefined): number | null {
  return gb === null || gb === undefined ? null : gb * 1e9;
}

export function freeSpace(gb: number | null | undefined): string {
  return bytes(gbToBytes(gb));
}

export function describeStorageTest(r: StorageTest, t: Translate): NonNullable<Outcome> {
  if (!r.success) {
    return { tone: "bad", text: t("storages.testFailed", { status: r.status, ms: r.latency_ms, message: r.message || t("storages.noMessage") }) };
  }
  const parts = [t("storages.connected", { ms: r.latency_ms })];
  if (r.available_space_gb !== null && r.available_space_gb !== undefined) parts.push(t("storages.free", { free: freeSpace(r.available_space_gb) }));
  return { tone: "good", text: parts.join(" ") };
}
