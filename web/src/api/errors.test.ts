import { describe, expect, it } from "vitest";
import { ApiFailure, placeError, placeFailure, toFailure } from "./errors";

describe("toFailure", () => {
  it("reads the API's error shape", () => {
    const f = toFailure(400, { error: { code: "invalid", message: "must be a port", field: "connection_config.port" } });
    expect(f).toBeInstanceOf(ApiFailure);
    expect([f.status, f.code, f.message, f.field]).toEqual([400, "invalid", "must be a port", "connection_config.port"]);
  });
  it("gives a readable failure for bodies that are not the API's", () => {
    expect(toFailure(502, "<html>bad gateway</html>", "Bad Gateway").message).toBe("502 Bad Gateway");
    expect(toFailure(0, undefined).code).toBe("network");
    expect(toFailure(500, { error: { code: "x" } }, "Internal Server Error").message).toBe("Internal Server Error");
  });
});

describe("placeFailure", () => {
  const fields = ["name", "host", "port", "retention_policy.max_backups"];
  it("puts a prefixed field's message under the field", () => {
    const f = new ApiFailure(400, "invalid", "must be between 1 and 65535", "connection_config.port");
    expect(placeFailure(f, fields, "connection_config")).toEqual({ fields: { port: "must be between 1 and 65535" } });
  });
  it("drops the field's name the server puts before its message", () => {
    const f = new ApiFailure(422, "validation_failed", "schedule_cron: hour field `25`: out of range", "schedule_cron");
    expect(placeFailure(f, ["schedule_cron"])).toEqual({ fields: { schedule_cron: "hour field `25`: out of range" } });
    expect(placeFailure(f, ["name"])).toEqual({ fields: {}, general: "schedule_cron: hour field `25`: out of range" });
  });
  it("matches a full path and a top-level name", () => {
    expect(placeFailure(new ApiFailure(400, "i", "too many", "retention_policy.max_backups"), fields).fields).toEqual({
      "retention_policy.max_backups": "too many",
    });
    expect(placeFailure(new ApiFailure(409, "conflict", "taken", "name"), fields).fields).toEqual({ name: "taken" });
  });
  it("shows what no field shows above the form, naming the field", () => {
    expect(placeFailure(new ApiFailure(400, "i", "unknown", "backup_options.level"), fields)).toEqual({
      fields: {},
      general: "backup_options.level: unknown",
    });
    expect(placeFailure(new Error("boom"), fields)).toEqual({ fields: {}, general: "boom" });
  });
});

describe("placeError", () => {
  it("places nothing until the call has failed", () => {
    expect(placeError(null, ["name"])).toEqual({ fields: {} });
    expect(placeError(new ApiFailure(422, "invalid", "name: is taken", "name"), ["name"])).toEqual({ fields: { name: "is taken" } });
  });
});
