import { describe, expect, it } from "vitest";
import { translator } from "../../i18n";
import {
  buildRestoreRequest,
  canStart,
  confirmationText,
  initialForm,
  isFinished,
  isRestorable,
  parseJobs,
  progressValue,
  readableCopies,
  storedDatabases,
  targetDatabaseName,
  targetOptions,
  updateForm,
  type Backup,
} from "./restore";

const t = translator("en");

function backup(over: Partial<Backup> = {}): Backup {
  return {
    id: "exec-1",
    backup_type: "full",
    created_at: "2026-03-01T03:00:00Z",
    finished_at: "2026-03-01T03:01:00Z",
    datasource_id: "ds-1",
    job_id: "job-1",
    metadata: {},
    operation: "backup",
    progress_bytes: 0,
    status: "completed",
    trigger_type: "scheduled",
    updated_at: "2026-03-01T03:01:00Z",
    copies: [
      { storage_location_id: "st-gone", storage_name: "Offsite", availability: "missing" },
      { storage_location_id: "st-1", storage_name: "Local disk", availability: "available" },
      { storage_location_id: "st-2", storage_name: "S3", availability: "unknown" },
    ],
    ...over,
  } as Backup;
}

const datasources = [
  { id: "ds-2", name: "Staging", type: "postgres", connection_config: { database: "staging" } },
  { id: "ds-1", name: "Chinook", type: "postgres", connection_config: { database: "chinook" } },
  { id: "ds-3", name: "Shop", type: "mysql", connection_config: { database: "shop" } },
];

describe("copies and targets", () => {
  it("offers the copies that can be read, in the backup's order", () => {
    expect(readableCopies(backup()).map((c) => c.storage_name)).toEqual(["Local disk", "S3"]);
    expect(isRestorable(backup({ copies: [{ storage_location_id: "x", storage_name: "X", availability: "missing" }] }))).toBe(false);
    expect(isRestorable(backup({ copies: [{ storage_location_id: "x", storage_name: "", availability: "unknown" }] }))).toBe(false);
  });

  it("offers datasources of the backup's engine, by name, and always the backup's own", () => {
    const own = { id: "ds-1", name: "Chinook" };
    expect(targetOptions(datasources, own, "postgres").map((o) => [o.name, o.database])).toEqual([
      ["Chinook", "chinook"],
      ["Staging", "staging"],
    ]);
    // Without a recorded engine, the own datasource's type decides.
    expect(targetOptions(datasources, own, undefined).map((o) => o.id)).toEqual(["ds-1", "ds-2"]);
    // Without the right to list datasources.
    expect(targetOptions(undefined, own, "postgres")).toEqual([{ id: "ds-1", name: "Chinook" }]);
  });

  it("reads the databases of a backup of several", () => {
    expect(storedDatabases(backup())).toBeNull();
    const several = backup({
      metadata: { databases: [{ name: "shop", status: "completed" }, { name: "crm", status: "failed" }, { name: "hr", status: "completed" }] } as never,
    });
    expect(storedDatabases(several)).toEqual(["shop", "hr"]);
    expect(initialForm(several, "ds-1").database).toBe("shop");
  });
});

describe("the form", () => {
  it("opens on a verification from the first readable copy into the backup's own datasource", () => {
    const form = initialForm(backup(), "ds-1");
    expect(form).toMatchObject({ storageId: "st-1", targetId: "ds-1", verification: true, confirmed: false });
    expect(canStart(form)).toBe(true);
  });

  it("asks for confirmation of a real restore, and again whenever the target changes", () => {
    let form = updateForm(initialForm(backup(), "ds-1"), { verification: false });
    expect(canStart(form)).toBe(false);
    form = updateForm(form, { confirmed: true });
    expect(canStart(form)).toBe(true);
    // The storage read from does not change what is written where.
    expect(updateForm(form, { storageId: "st-2" }).confirmed).toBe(true);
    expect(updateForm(form, { jobs: "4" }).confirmed).toBe(true);
    // The same value again is no change.
    expect(updateForm(form, { targetId: "ds-1" }).confirmed).toBe(true);
    for (const patch of [{ targetId: "ds-2" }, { targetDatabase: "other" }, { dropExisting: true }, { verification: true }]) {
      expect(updateForm(form, patch).confirmed).toBe(false);
    }
  });

  it("names the target in the confirmation: the typed database, else the datasource's own", () => {
    const target = { id: "ds-1", name: "Chinook", database: "chinook" };
    const form = updateForm(initialForm(backup(), "ds-1"), { verification: false });
    expect(targetDatabaseName(form, target)).toBe("chinook");
    expect(confirmationText(t, form, target)).toBe("I understand that this backup will be written into chinook on Chinook.");
    const typed = updateForm(form, { targetDatabase: " chinook_copy ", dropExisting: true });
    expect(confirmationText(t, typed, target)).toBe(
      "I understand that this backup will be written into chinook_copy on Chinook. Objects of the same names there are dropped first.",
    );
    expect(confirmationText(t, form, { id: "ds-9", name: "Files" })).toBe("I understand that this backup will be written into Files.");
  });

  it("keeps the words other labels are found by out of the confirmation", () => {
    // Tests find inputs by label text ("Database", "Datasource", "Verification mode"), matching substrings.
    const text = confirmationText(t, updateForm(initialForm(backup(), "ds-1"), { verification: false }), { id: "ds-1", name: "Chinook", database: "x" });
    expect(text).not.toMatch(/database|datasource|verification mode|storage/i);
  });
});

describe("buildRestoreRequest", () => {
  it("sends a verification without the fields that do not apply to it", () => {
    const form = { ...initialForm(backup(), "ds-1"), targetDatabase: "ignored", dropExisting: true };
    expect(buildRestoreRequest(form, backup())).toEqual({
      request: {
        storage_location_id: "st-1",
        target_datasource_id: "ds-1",
        verification_mode: true,
        confirm_overwrite: false,
        drop_existing: false,
      },
      errors: {},
    });
  });

  it("sends a confirmed restore into a new database with parallel jobs", () => {
    const form = { ...initialForm(backup(), "ds-1"), verification: false, confirmed: true, targetDatabase: " restored ", jobs: "4", dropExisting: true };
    expect(buildRestoreRequest(form, backup()).request).toEqual({
      storage_location_id: "st-1",
      target_datasource_id: "ds-1",
      verification_mode: false,
      confirm_overwrite: true,
      drop_existing: true,
      target_database: "restored",
      jobs: 4,
    });
  });

  it("refuses an unconfirmed restore, bad jobs and a missing database choice", () => {
    const several = backup({ metadata: { databases: [{ name: "shop", status: "completed" }] } as never });
    const form = { ...initialForm(several, "ds-1"), verification: false, database: "", jobs: "2.5" };
    expect(buildRestoreRequest(form, several)).toEqual({ errors: { database: "required", jobs: "whole number", confirm_overwrite: "required" } });
    const chosen = { ...form, database: "shop", jobs: "auto", confirmed: true };
    expect(buildRestoreRequest(chosen, several).request).toMatchObject({ database: "shop", jobs: "auto" });
  });

  it("reads parallel jobs", () => {
    expect([parseJobs(""), parseJobs(" AUTO "), parseJobs("1"), parseJobs("64")]).toEqual([{}, { jobs: "auto" }, { jobs: 1 }, { jobs: 64 }]);
    expect([parseJobs("0"), parseJobs("65"), parseJobs("-1"), parseJobs("two")].map((r) => r.error)).toEqual([
      "min:1",
      "max:64",
      "whole number",
      "whole number",
    ]);
  });
});

describe("the run", () => {
  it("knows when an execution is over", () => {
    expect(["queued", "running"].map((s) => isFinished(s as never))).toEqual([false, false]);
    expect(["completed", "failed", "cancelled"].map((s) => isFinished(s as never))).toEqual([true, true, true]);
    expect(isFinished(undefined)).toBe(false);
  });

  it("fills the bar from the percent, else from bytes of the total, and full when completed", () => {
    expect(progressValue("running", { percent: 42.5 })).toBe(42.5);
    expect(progressValue("running", { bytes: 25, total_bytes: 100 })).toBe(25);
    expect(progressValue("running", { bytes: 25 })).toBeUndefined();
    expect(progressValue("queued", undefined)).toBeUndefined();
    expect(progressValue("completed", undefined)).toBe(100);
  });
});
