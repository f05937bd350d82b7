import { describe, expect, it } from "vitest";
import { hasValues, performanceSeries, statusCounts, storageRows, type Sample, type StorageReport } from "./overview";

const runtime = { alive_tasks: 10, global_queue_depth: 0, workers: 2 };


describe("performanceSeries", () => {
  const history: Sample[] = [
    { timestamp: "2026-03-28T12:00:00Z", cpu_percent: 50, process_cpu_percent: 100, memory_used_bytes: 1000, process_rss_bytes: 10, load_average: [0.5, 0.4, 0.3], runtime },
    { timestamp: "garbage", cpu_percent: 99, runtime },
    { timestamp: "2026-03-28T12:00:05Z", cpu_percent: null, process_cpu_percent: 20, memory_used_bytes: 1100, runtime },
  ];
  it("turns samples into aligned series, the process's CPU on the machine's scale", () => {
    const s = performanceSeries(history, 4);
    expect(s.times).toEqual([1774699200, 1774699205]);
    expect(s.cpu).toEqual([50, null]);
    expect(s.processCpu).toEqual([25, 5]);
    expect(s.memoryUsed).toEqual([1000, 1100]);
    expect(s.processRss).toEqual([10, null]);
    expect(s.load1).toEqual([0.5, null]);
  });
  it("tells an empty series", () => {
    expect(hasValues([null, null])).toBe(false);
    expect(hasValues([null, 0])).toBe(true);
    expect(performanceSeries([], 0).times).toEqual([]);
  });
});

describe("storageRows", () => {
  const storage = (id: string, name: string, gb: number | null) =>
    ({ id, name, type: "local", status: "healthy", available_space_gb: gb, config: {}, created_at: "", updated_at: "", is_default: false }) as StorageReport["storage"];
  it("takes free space and errors from the newest check, sorted by name", () => {
    const reports: StorageReport[] = [
      {
        storage: storage("b", "Local disk", 1),
        history: [
          { id: "2", storage_location_id: "b", checked_at: "2026-03-28T12:00:00Z", status: "unreachable", error_message: "gone", available_space_gb: null, latency_ms: 3 },
          { id: "1", storage_location_id: "b", checked_at: "2026-03-28T11:00:00Z", status: "ok", available_space_gb: 2.5 },
        ],
      },
      { storage: storage("a", "Archive", null), history: [] },
    ];
    expect(storageRows(reports)).toEqual([
      { id: "a", name: "Archive", type: "local", status: "healthy", freeBytes: undefined, checkedAt: undefined, latencyMs: undefined, error: undefined },
      { id: "b", name: "Local disk", type: "local", status: "healthy", freeBytes: 2_500_000_000, checkedAt: "2026-03-28T12:00:00Z", latencyMs: 3, error: "gone" },
    ]);
  });
});

describe("statusCounts", () => {
  it("puts the worrying statuses first and leaves out empty ones", () => {
    expect(statusCounts({ healthy: 3, warning: 1, critical: 0, unknown: 2 })).toEqual([
      ["warning", 1],
      ["unknown", 2],
      ["healthy", 3],
    ]);
  });
});
