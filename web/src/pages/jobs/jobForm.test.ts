import { describe, expect, it } from "vitest";
import { ApiFailure } from "../../api/errors";
import { checkForm, editedFields, emptyForm, FIELDS, formFromJob, formField, placeJobFailure, toBody, withExtra, withoutFields, withPrimary, type Job, type JobFormValues } from "./jobForm";

const job: Job = {
  id: "j1",
  name: "Chinook nightly",
  datasource_id: "d1",
  storage_location_id: "s1",
  storage_location_ids: ["s1", "s3"],
  storage_strategy: "fallback",
  schedule_cron: "0 3 * * *",
  schedule_timezone: "Europe/Lisbon",
  enabled: false,
  retention_policy: { max_backups: 7, auto_delete: true },
  // As the server sends them: `databases` is "*" or a list, whatever the document's type says.
  backup_options: { compression: "gzip", compression_level: 6, max_file_size_mb: 1024, databases: ["shop", "crm_*"], exclude_databases: ["crm_old"] } as unknown as Job["backup_options"],
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
};

function filled(patch: Partial<JobFormValues> = {}): JobFormValues {
  return { ...emptyForm("Europe/Lisbon", "s1"), name: "Nightly", datasourceId: "d1", scheduleCron: "0 3 * * *", ...patch };
}

describe("the job form", () => {
  it("builds a new job's body with the defaults the form shows", () => {
    expect(toBody(filled())).toEqual({
      name: "Nightly",
      datasource_id: "d1",
      storage_location_ids: ["s1"],
      storage_strategy: "replicate",
      schedule_cron: "0 3 * * *",
      schedule_timezone: "Europe/Lisbon",
      enabled: true,
      retention_policy: { auto_delete: false },
      backup_options: { compression: "zstd" },
    });
  });

  it("reads a stored job back into the same body, keeping options it does not show", () => {
    const values = formFromJob(job);
    expect(values.storageId).toBe("s1");
    expect(values.extraStorageIds).toEqual(["s3"]);
    expect(values.databasesMode).toBe("list");
    expect(values.databases).toBe("shop\ncrm_*");
    expect(toBody(values)).toEqual({
      name: "Chinook nightly",
      datasource_id: "d1",
      storage_location_ids: ["s1", "s3"],
      storage_strategy: "fallback",
      schedule_cron: "0 3 * * *",
      schedule_timezone: "Europe/Lisbon",
      enabled: false,
      retention_policy: { max_backups: 7, auto_delete: true },
      backup_options: { compression: "gzip", compression_level: 6, max_file_size_mb: 1024, databases: ["shop", "crm_*"], exclude_databases: ["crm_old"] },
    });
  });

  it("sends every database as \"*\" and drops the selection for the datasource's own", () => {
    expect(toBody(filled({ databasesMode: "all", excludeDatabases: "template*, postgres" })).backup_options).toEqual({
      compression: "zstd",
      databases: "*",
      exclude_databases: ["template*", "postgres"],
    });
    expect(toBody(filled({ databasesMode: "own", databases: "a", excludeDatabases: "b" })).backup_options).toEqual({ compression: "zstd" });
  });

  it("leaves out a compression level the algorithm does not take", () => {
    expect(toBody(filled({ compression: "lz4", compressionLevel: "3" })).backup_options).toEqual({ compression: "lz4" });
    expect(toBody(filled({ compression: "zstd", compressionLevel: "3" })).backup_options).toEqual({ compression: "zstd", compression_level: 3 });
  });

  it("keeps the primary storage out of the extras", () => {
    let v = withExtra(filled(), "s2", true);
    v = withExtra(v, "s3", true);
    expect(v.extraStorageIds).toEqual(["s2", "s3"]);
    v = withPrimary(v, "s2");
    expect(toBody(v).storage_location_ids).toEqual(["s2", "s3"]);
    expect(withExtra(v, "s3", false).extraStorageIds).toEqual([]);
  });

  it("checks what it can before asking the server", () => {
    expect(checkForm(emptyForm("UTC"))).toEqual({
      name: "required",
      datasource_id: "required",
      storage_location_id: "required",
      schedule_cron: "required",
    });
    expect(checkForm(filled({ maxBackups: "0", keepDaily: "x", compressionLevel: "1.5", databasesMode: "list" }))).toEqual({
      "retention_policy.max_backups": "min:1",
      "retention_policy.keep_daily": "whole number",
      "backup_options.compression_level": "whole number",
      "backup_options.databases": "required",
    });
  });
});

describe("placing the server's failures", () => {
  it("maps list entries and combined names to one input", () => {
    expect(formField("storage_location_ids[0]")).toBe("storage_location_id");
    expect(formField("storage_location_ids[2]")).toBe("storage_location_ids");
    expect(formField("storage_location_ids")).toBe("storage_location_id");
    expect(formField("backup_options.databases[1]")).toBe("backup_options.databases");
    expect(formField("retention_policy.keep_daily/keep_weekly/keep_monthly")).toBe("retention_policy.keep_daily");
  });

  it("puts a named failure under its input and the rest above the form", () => {
    expect(placeJobFailure(new ApiFailure(422, "validation_failed", "bad cron", "schedule_cron"))).toEqual({ fields: { schedule_cron: "bad cron" } });
    expect(placeJobFailure(new ApiFailure(422, "validation_failed", "at least one", "retention_policy.keep_daily/keep_weekly/keep_monthly")).fields).toEqual({
      "retention_policy.keep_daily": "at least one",
    });
    expect(placeJobFailure(new ApiFailure(422, "validation_failed", "too big", "backup_options.max_file_size_mb")).fields).toEqual({ backup_options: "too big" });
    expect(placeJobFailure(new ApiFailure(409, "conflict", "name taken"))).toEqual({ fields: {}, general: "name taken" });
  });

  it("drops a save's message once its input is edited, and only that one", () => {
    const placed = placeJobFailure(new ApiFailure(400, "validation", "schedule_cron: expected 5 fields, got 4", "schedule_cron")).fields;
    const errors = { ...placed, [FIELDS.name]: "taken" };
    const before = filled({ scheduleCron: "0 3 * *" });
    expect(withoutFields(errors, editedFields(before, { ...before, scheduleCron: "0 3 * * *" }))).toEqual({ [FIELDS.name]: "taken" });
    expect(withoutFields(errors, editedFields(before, { ...before, name: "Other" }))).toEqual(placed);
    expect(withoutFields(errors, editedFields(before, before))).toBe(errors);
    // The retention numbers share one check: editing any of them drops the message of each.
    const retention = { [FIELDS.keepDaily]: "at least one keep rule" };
    expect(withoutFields(retention, editedFields(before, { ...before, keepWeekly: "4" }))).toEqual({});
    expect(editedFields(before, withExtra(before, "s2", true))).toContain(FIELDS.extraStorages);
  });
});
