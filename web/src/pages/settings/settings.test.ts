import { describe, expect, it } from "vitest";
import { auditQuery, expiryFromDays, grantable, localToRfc3339, NO_AUDIT_FILTER, PERMISSIONS, userChange } from "./access";
import { nodeState } from "./nodes";
import { changedSettings, kindOfValue, newSetting, newSettingValue, sameJson, settingFields, settingValues, validKey } from "./settingsForm";

const stored = { "ui.theme": "dark", "ui.page_size": 25, "ui.compact": false, "ui.columns": ["name", "status"], "ui.nothing": null };

describe("settings form", () => {
  it("types each input by its value, keys in order", () => {
    expect(settingFields(stored)).toEqual([
      { key: "ui.columns", kind: "json" },
      { key: "ui.compact", kind: "boolean" },
      { key: "ui.nothing", kind: "json" },
      { key: "ui.page_size", kind: "number" },
      { key: "ui.theme", kind: "text" },
    ]);
    expect(kindOfValue({})).toBe("json");
  });

  it("starts each input from the stored value", () => {
    const v = settingValues(stored);
    expect(v["ui.compact"]).toBe(false);
    expect(v["ui.page_size"]).toBe("25");
    expect(JSON.parse(v["ui.columns"] as string)).toEqual(["name", "status"]);
    expect(v["ui.nothing"]).toBe("null");
  });

  it("sends only the keys that changed", () => {
    expect(changedSettings(stored, settingValues(stored))).toEqual({ changes: {}, errors: {} });
    const v = { ...settingValues(stored), "ui.page_size": "50", "ui.compact": true, "ui.columns": '[ "name",  "status" ]' };
    expect(changedSettings(stored, v)).toEqual({ changes: { "ui.page_size": 50, "ui.compact": true }, errors: {} });
  });

  it("refuses a number or JSON that does not parse", () => {
    const v = { ...settingValues(stored), "ui.page_size": "many", "ui.columns": "[oops" };
    expect(changedSettings(stored, v).errors).toEqual({ "ui.page_size": "number", "ui.columns": "json" });
    expect(changedSettings(stored, { ...settingValues(stored), "ui.page_size": " " }).errors).toEqual({ "ui.page_size": "required" });
  });

  it("compares JSON without minding key order", () => {
    expect(sameJson({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(sameJson({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameJson([1], { 0: 1 })).toBe(false);
    expect(sameJson(null, {})).toBe(false);
  });

  it("reads a new setting: checked key, JSON or plain text value", () => {
    expect(validKey("ui.theme_2")).toBe(true);
    expect(validKey("UI Theme")).toBe(false);
    expect(newSettingValue("true")).toBe(true);
    expect(newSettingValue("42")).toBe(42);
    expect(newSettingValue("dark")).toBe("dark");
    expect(newSetting("", " ", stored)).toEqual({});
    expect(newSetting(" ui.new ", '{"a":1}', stored)).toEqual({ entry: ["ui.new", { a: 1 }] });
    expect(newSetting("Bad Key", "x", stored)).toEqual({ error: "key" });
    expect(newSetting("ui.theme", "x", stored)).toEqual({ error: "exists" });
  });
});

describe("tokens", () => {
  const now = new Date("2026-12-07T10:00:00Z");

  it("turns days into an expiry; empty never expires", () => {
    expect(expiryFromDays("", now)).toEqual({});
    expect(expiryFromDays("30", now)).toEqual({ expiresAt: "2027-01-06T10:00:00.000Z" });
    expect(expiryFromDays("1.5", now)).toEqual({ error: "whole number" });
    expect(expiryFromDays("0", now)).toEqual({ error: "min:1" });
    expect(expiryFromDays("99999", now)).toEqual({ error: "max:3650" });
  });

  it("offers only the permissions one holds, in the server's order", () => {
    expect(grantable(["jobs:read", "datasources:read"])).toEqual(["datasources:read", "jobs:read"]);
    expect(PERMISSIONS).toHaveLength(20);
    expect(new Set(PERMISSIONS).size).toBe(20);
  });
});

describe("audit filters", () => {
  it("send only what is filled, times as UTC instants", () => {
    expect(auditQuery(NO_AUDIT_FILTER, 1)).toEqual({ page: 1, limit: 50 });
    const local = "2026-12-07T03:30";
    const q = auditQuery({ actor: " alice ", action: "users.create", from: local, to: "" }, 2);
    expect(q).toEqual({ actor: "alice", action: "users.create", from: new Date(local).toISOString(), page: 2, limit: 50 });
    expect(q.from).toMatch(/Z$/);
    expect(localToRfc3339("not a date")).toBeUndefined();
  });
});

describe("userChange", () => {
  const user = { username: "bob", role: "viewer" };

  it("sends only what changed", () => {
    expect(userChange(user, { username: "bob", role: "viewer", password: "" })).toEqual({});
    expect(userChange(user, { username: " robert ", role: "operator", password: "long enough pw" })).toEqual({
      username: "robert",
      role: "operator",
      password: "long enough pw",
    });
  });
});

describe("node state", () => {
  it("reads a node silent after 30 s without a report", () => {
    const now = new Date("2026-12-07T12:00:00Z");
    expect(nodeState("2026-12-07T11:59:55Z", now)).toBe("reporting");
    expect(nodeState("2026-12-07T11:59:00Z", now)).toBe("silent");
    expect(nodeState("not a time", now)).toBe("silent");
  });
});
