import { describe, expect, it } from "vitest";
import { translator } from "../../i18n";
import { describeCheck, describeTest } from "./describe";
import type { ConnectionTest, HealthCheck } from "./api";

const t = translator("en");
const test = (over: Partial<ConnectionTest>): ConnectionTest => ({ success: true, status: "ok", latency_ms: 12, metadata: {}, ...over });

describe("describeTest", () => {
  it("says Connected with the latency, the version and the size the server gave", () => {
    const r = test({ version: "PostgreSQL 16.3", metadata: { size_bytes: "8388608", active_connections: "3" } as unknown as ConnectionTest["metadata"] });
    expect(describeTest(r, t)).toEqual({
      tone: "good",
      text: "Connected in 12 ms. Server: PostgreSQL 16.3. Database size: 8.00 MiB. Active connections: 3.",
    });
    expect(describeTest(test({}), t).text).toBe("Connected in 12 ms.");
  });
  it("gives the failure's own message", () => {
    const r = test({ success: false, status: "auth_failed", latency_ms: 4, message: "password authentication failed" });
    expect(describeTest(r, t)).toEqual({ tone: "bad", text: "Connection failed (auth_failed) after 4 ms: password authentication failed" });
  });
});

describe("describeCheck", () => {
  const check = (over: Partial<HealthCheck>): HealthCheck => ({ id: "c", datasource_id: "d", checked_at: "2026-01-01T00:00:00Z", status: "ok", latency_ms: 7, metadata: {}, ...over });
  it("reads a recorded check", () => {
    expect(describeCheck(check({}), t).text).toBe("Health check recorded: ok in 7 ms.");
    expect(describeCheck(check({ status: "unreachable", latency_ms: null, error_message: "connection refused" }), t)).toEqual({
      tone: "bad",
      text: "Health check recorded: unreachable: connection refused",
    });
  });
});
