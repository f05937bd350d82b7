import { describe, expect, it } from "vitest";
import { buildConfig, fieldsOf, initialValues, labelOf } from "./schemaForm";

const postgres = {
  type: "object",
  required: ["host", "database", "username"],
  properties: {
    host: { type: "string" },
    port: { type: "integer", default: 5432, minimum: 1, maximum: 65535 },
    database: { type: "string" },
    username: { type: "string" },
    sslmode: { type: "string", enum: ["disable", "require"], title: "TLS mode" },
    include: { type: "array", items: { type: "string" } },
    tls: { type: "boolean", default: false },
  },
  "x-secrets": ["password"],
};

describe("fieldsOf", () => {
  it("turns properties into labelled fields of the right kind, secrets last", () => {
    const fields = fieldsOf(postgres, ["password"]);
    expect(fields.map((f) => [f.name, f.label, f.kind, f.required])).toEqual([
      ["host", "Host", "text", true],
      ["port", "Port", "integer", false],
      ["database", "Database", "text", true],
      ["username", "Username", "text", true],
      ["sslmode", "TLS mode", "select", false],
      ["include", "Include", "list", false],
      ["tls", "Tls", "boolean", false],
      ["password", "Password", "secret", false],
    ]);
    expect(fields[4].options).toEqual(["disable", "require"]);
  });
  it("follows the plugin's order of its properties", () => {
    const sorted = { properties: { database: {}, host: {}, port: {}, username: {} } };
    expect(fieldsOf(sorted, [], ["host", "port", "database"]).map((f) => f.name)).toEqual(["host", "port", "database", "username"]);
  });
  it("takes secrets from the server's list only", () => {
    // writeOnly alone is no secret: the server would store and answer it
    // as given, and a form that never fills it would drop it on an edit.
    const schema = { properties: { pin: { type: "string", writeOnly: true }, api_key: { type: "string" } } };
    expect(fieldsOf(schema, ["api_key"]).map((f) => f.kind)).toEqual(["text", "secret"]);
  });
  it("survives an empty or missing schema", () => {
    expect(fieldsOf(undefined)).toEqual([]);
    expect(fieldsOf({}, ["token"]).map((f) => f.kind)).toEqual(["secret"]);
  });
  it("words property names", () => {
    expect(labelOf("auth_database")).toBe("Auth database");
    expect(labelOf("secret-access-key")).toBe("Secret access key");
  });
});

describe("initialValues and buildConfig", () => {
  const fields = fieldsOf(postgres, ["password"]);
  it("starts from defaults and never shows a stored secret", () => {
    const v = initialValues(fields, { host: "db", password: "********", include: ["a", "b"] });
    expect(v).toMatchObject({ host: "db", port: "5432", password: "", include: "a\nb", tls: false });
  });
  it("builds typed config and leaves out empty optional fields", () => {
    const v = { ...initialValues(fields), host: " db ", database: "shop", username: "u", password: "p w ", include: "x\n\n y " };
    const { config, errors } = buildConfig(fields, v, false);
    expect(errors).toEqual({});
    expect(config).toEqual({ host: "db", port: 5432, database: "shop", username: "u", password: "p w ", include: ["x", "y"], tls: false });
  });
  it("names bad and missing fields", () => {
    const v = { ...initialValues(fields), port: "70000", database: "shop", username: "u" };
    expect(buildConfig(fields, v, false).errors).toEqual({ host: "required", port: "max:65535" });
    expect(buildConfig(fields, { ...v, port: "5.5" }, false).errors.port).toBe("whole number");
  });
  it("keeps the stored secret on an edit when the field is left empty", () => {
    const required = fieldsOf({ required: ["token"], properties: { token: { type: "string" } } }, ["token"]);
    expect(buildConfig(required, { token: "" }, true)).toEqual({ config: {}, errors: {} });
    expect(buildConfig(required, { token: "" }, false).errors).toEqual({ token: "required" });
  });
});
