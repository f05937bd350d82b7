import { describe, expect, it } from "vitest";
import { appendLines, canRetryUpload, copyOf, databasesOf, isFinal, latestProgress, logText, summarize, type ExecutionDetail, type LogLine } from "./execution";

const backup: ExecutionDetail = {
  id: "e1",
  operation: "backup",
  status: "completed",
  backup_type: "full",
  backup_path: "j1/2026",
  storage_location_id: "s1",
  created_at: "2026-01-01T03:00:00Z",
  updated_at: "2026-01-01T03:01:00Z",
  metadata: {},
  progress_bytes: 0,
  trigger_type: "scheduled",
  storages: [{ execution_id: "e1", storage_location_id: "s1", status: "completed", updated_at: "2026-01-01T03:01:00Z" }],
  chunks: [],
};

describe("progress", () => {
  it("keeps the report further into the run", () => {
    const early = { bytes: 10, elapsed_seconds: 1 };
    const later = { bytes: 20, elapsed_seconds: 2 };
    expect(latestProgress(early, later)).toBe(later);
    expect(latestProgress(later, early)).toBe(later);
    expect(latestProgress(null, early)).toBe(early);
    expect(latestProgress(undefined, null)).toBeNull();
  });

  it("reads a report with a known total", () => {
    expect(summarize({ bytes: 512 * 1024 ** 2, total_bytes: 1024 ** 3, percent: 50, bytes_per_second: 10 * 1024 ** 2, eta_seconds: 75 })).toEqual({
      value: 50,
      percent: "50.0%",
      done: "512 MiB",
      total: "1.00 GiB",
      rate: "10.0 MiB/s",
      eta: "1 min 15 s",
    });
  });

  it("reads a backup's report, whose total is unknown, as an indeterminate bar", () => {
    expect(summarize({ bytes: 1536, average_bytes_per_second: 1024, percent: null, eta_seconds: null })).toEqual({
      value: null,
      percent: null,
      done: "1.50 KiB",
      total: null,
      rate: "1.00 KiB/s",
      eta: null,
    });
  });

  it("knows which statuses are final", () => {
    expect(["queued", "running", "completed", "failed", "cancelled"].map((s) => isFinal(s as never))).toEqual([false, false, true, true, true]);
  });
});

describe("retry upload", () => {
  it("is offered when a storage of the job lacks the backup", () => {
    expect(canRetryUpload(backup, ["s1"])).toBe(false);
    expect(canRetryUpload(backup, ["s1", "s2"])).toBe(true);
    const failed = { ...backup, storages: [...backup.storages, { ...backup.storages[0], storage_location_id: "s2", status: "failed" as const }] };
    expect(canRetryUpload(failed)).toBe(true);
  });

  it("is not offered for anything but a completed backup", () => {
    expect(canRetryUpload({ ...backup, status: "failed" }, ["s1", "s2"])).toBe(false);
    expect(canRetryUpload({ ...backup, operation: "restore" }, ["s1", "s2"])).toBe(false);
  });
});

describe("logs", () => {
  const line = (id: number, message = `line ${id}`): LogLine => ({ id, level: "info", message, ts: "2026-01-01T03:00:05Z" });

  it("adds only lines newer than those shown", () => {
    expect(appendLines([line(1), line(2)], [line(2), line(3)]).map((l) => l.id)).toEqual([1, 2, 3]);
    expect(appendLines([], [line(1)]).map((l) => l.id)).toEqual([1]);
  });

  it("reads as time, level and message", () => {
    expect(logText(line(1, "stored"), "en-GB", "UTC")).toBe("03:00:05 INFO  stored");
  });
});

describe("databasesOf", () => {
  it("reads the several-databases record and ignores anything else", () => {
    expect(
      databasesOf({
        databases: [
          { name: "shop", status: "completed", compressed_size_bytes: 10 },
          { name: "crm", status: "failed", error: "gone" },
          { nope: 1 },
        ],
      }),
    ).toEqual([
      { name: "shop", status: "completed", size: 10, error: undefined },
      { name: "crm", status: "failed", error: "gone", size: undefined },
    ]);
    expect(databasesOf({ databases: null })).toEqual([]);
    expect(databasesOf(null)).toEqual([]);
  });
});

describe("copyOf", () => {
  it("reads what a copy did per storage", () => {
    const metadata = {
      copy: {
        source_storage: "Local disk",
        actions: [
          { action: "present", message: null, storage_location_id: "s2", storage_name: "Second disk" },
          { action: "failed", message: "disk full", storage_location_id: "s3", storage_name: "NAS" },
        ],
      },
    };
    expect(copyOf(metadata)).toEqual({
      source: "Local disk",
      actions: [
        { storageId: "s2", storage: "Second disk", action: "present", message: undefined },
        { storageId: "s3", storage: "NAS", action: "failed", message: "disk full" },
      ],
    });
    expect(copyOf({})).toEqual({ actions: [] });
  });
});
