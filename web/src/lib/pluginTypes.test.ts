import { describe, expect, it } from "vitest";
import { configFacts, fieldsFor, pluginFor, typeOptions, type Plugin } from "./pluginTypes";

const plugin = (id: string, provides: string[], config_schema: object, secret_fields: string[] = []): Plugin => ({
  id,
  kind: "engine",
  provides,
  serves: provides,
  replaces: [],
  sha256: "",
  warnings: [],
  config_schema: config_schema as Plugin["config_schema"],
  secret_fields,
  field_order: Object.keys((config_schema as { properties?: object }).properties ?? {}),
  api_version: "1",
  builtin: true,
  description: "",
  version: "1",
});

const postgres = plugin(
  "postgres",
  ["postgres", "postgresql"],
  { required: ["host"], properties: { host: { type: "string" }, port: { type: "integer" }, database: { type: "string" } }, "x-secrets": ["password"] },
  ["password"],
);
const files = plugin("files", ["files"], { properties: { path: { type: "string" }, include: { type: "array" } } });

describe("a replaced type", () => {
  it("takes its form from the plugin that serves it now", () => {
    const builtin = { ...files, serves: [] };
    const mine = { ...plugin("my-files", ["files"], { properties: { root: { type: "string" } } }), builtin: false, replaces: ["files"] };
    expect(pluginFor([builtin, mine], "files")?.id).toBe("my-files");
    expect(typeOptions([builtin, mine])).toEqual(["files"]);
  });
});

describe("typeOptions", () => {
  it("lists every provided type once, keeping a stored type no plugin provides", () => {
    expect(typeOptions([postgres, files])).toEqual(["postgres", "postgresql", "files"]);
    expect(typeOptions([postgres, postgres])).toEqual(["postgres", "postgresql"]);
    expect(typeOptions([files], "mysql")).toEqual(["files", "mysql"]);
  });
});

describe("pluginFor and fieldsFor", () => {
  it("finds the plugin by any type it provides", () => {
    expect(pluginFor([postgres, files], "postgresql")?.id).toBe("postgres");
    expect(pluginFor([postgres], "")).toBeUndefined();
    expect(fieldsFor([postgres], "postgres").map((f) => f.label)).toEqual(["Host", "Port", "Database", "Password"]);
    expect(fieldsFor([postgres], "nope")).toEqual([]);
  });
});

describe("configFacts", () => {
  it("reads the stored config in the schema's order, secrets hidden", () => {
    const fields = fieldsFor([postgres], "postgres");
    const facts = configFacts({ database: "shop", password: "whatever", host: "db", extra_flag: true, port: 5432 }, fields);
    expect(facts).toEqual([
      { name: "host", label: "Host", value: "db" },
      { name: "port", label: "Port", value: "5432" },
      { name: "database", label: "Database", value: "shop" },
      { name: "password", label: "Password", value: "********" },
      { name: "extra_flag", label: "Extra flag", value: true },
    ]);
  });
  it("joins lists and leaves out empty values", () => {
    const facts = configFacts({ path: "/srv", include: ["a/**", "b"], note: "" }, fieldsFor([files], "files"));
    expect(facts.map((f) => f.value)).toEqual(["/srv", "a/**, b"]);
    expect(configFacts(null, [])).toEqual([]);
  });
});
