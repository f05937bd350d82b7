import { describe, expect, it } from "vitest";
import { translator } from "../../i18n";
import { describeStorageTest, freeSpace } from "./describe";

const t = translator("en");

describe("freeSpace", () => {
  it("reads the API's decimal gigabytes as bytes", () => {
    expect(freeSpace(1)).toBe("954 MiB");
    expect(freeSpace(null)).toBe("—");
  });
});

describe("describeStorageTest", () => {
  it("says Connected with the free space when the server gives it", () => {
    expect(describeStorageTest({ success: true, status: "ok", latency_ms: 3, available_space_gb: 1.073741824 }, t)).toEqual({
      tone: "good",
      text: "Connected in 3 ms. Free space: 1.00 GiB.",
    });
    expect(describeStorageTest({ success: true, status: "ok", latency_ms: 3 }, t).text).toBe("Connected in 3 ms.");
  });
  it("gives the failure's own message", () => {
    const r = { success: false, status: "unreachable" as const, latency_ms: 1, message: "/srv/backups does not exist" };
    expect(describeStorageTest(r, t)).toEqual({ tone: "bad", text: "Check failed (unreachable) after 1 ms: /srv/backups does not exist" });
  });
});
