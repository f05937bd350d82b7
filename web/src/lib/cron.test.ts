import { describe, expect, it } from "vitest";
import { looksComplete, previewRows } from "./cron";
import { bytes, duration, relative, setNumberLocale } from "./format";
import { translator } from "../i18n";

describe("looksComplete", () => {
  it("asks the server only for plausible expressions", () => {
    expect(looksComplete("0 3 * * *")).toBe(true);
    expect(looksComplete("*/15 9-17 * * MON-FRI")).toBe(true);
    expect(looksComplete("0 0 3 * * *")).toBe(true);
    expect(looksComplete("0 3 *")).toBe(false);
    expect(looksComplete("")).toBe(false);
    expect(looksComplete("0 3 * * * ; rm")).toBe(false);
  });
});

describe("previewRows", () => {
  const now = new Date("2026-03-28T12:00:00Z");
  it("shows runs in the job's zone across a daylight-saving change", () => {
    // 03:00 in Lisbon is 03:00 UTC before 29 March 2026 and 02:00 UTC after.
    const rows = previewRows(["2026-03-29T03:00:00Z", "2026-03-30T02:00:00Z"], "Europe/Lisbon", undefined, "en-GB");
    expect(rows[0].inZone).toContain("04:00"); // after the change the same instant reads 04:00
    expect(rows[1].inZone).toContain("03:00");
    expect(relative(translator("en"), rows[0].when, now)).toBe("in 15 h");
    expect(relative(translator("pt-BR"), "2026-03-25T12:00:00Z", now)).toBe("há 3 dias");
    expect(relative(translator("en"), null, now)).toBeUndefined();
  });
  it("adds the browser's zone when it differs", () => {
    const [row] = previewRows(["2026-03-30T02:00:00Z"], "Europe/Lisbon", "America/Sao_Paulo", "en-GB");
    expect(row.inZone).toMatch(/03:00.*\(.*23:00 America\/Sao_Paulo\)/);
  });
});

describe("format", () => {
  it("reads sizes and durations", () => {
    expect([bytes(0), bytes(1536), bytes(5 * 1024 ** 3), bytes(null)]).toEqual(["0 B", "1.50 KiB", "5.00 GiB", "—"]);
    setNumberLocale("pt-BR");
    expect([bytes(1536), bytes(1234567)]).toEqual(["1,50 KiB", "1,18 MiB"]);
    setNumberLocale("en");
    expect([duration(5), duration(75), duration(3725)]).toEqual(["5 s", "1 min 15 s", "1 h 2 min"]);
  });
});
