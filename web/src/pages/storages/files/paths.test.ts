import { describe, expect, it } from "vitest";
import type { FileEntry } from "../api";
import { baseName, copyTarget, crumbs, entryName, normalize, sortEntries } from "./paths";

const entry = (key: string, is_dir = false, job_name: string | null = null): FileEntry => ({ key, is_dir, job_name, size: 0 });

describe("paths", () => {
  it("normalizes keys and names entries", () => {
    expect(normalize("./a//b/")).toBe("a/b");
    expect(normalize("")).toBe("");
    expect(baseName("a/b/c.dump")).toBe("c.dump");
    expect(baseName("a/b/")).toBe("b");
    expect(entryName(entry("0190-uuid", true, "Chinook nightly"))).toBe("Chinook nightly");
    expect(entryName(entry("x/y.json"))).toBe("y.json");
  });
  it("puts folders first, then files, by name", () => {
    const sorted = sortEntries([entry("b.txt"), entry("z", true), entry("a.txt"), entry("id", true, "Alpha")]);
    expect(sorted.map(entryName)).toEqual(["Alpha", "z", "a.txt", "b.txt"]);
  });
  it("builds the breadcrumb, naming a job's folder by its job", () => {
    expect(crumbs("", "Local disk")).toEqual([{ prefix: "", label: "Local disk" }]);
    expect(crumbs("job-id/2026/", "Local disk", new Map([["job-id", "Chinook nightly"]]))).toEqual([
      { prefix: "", label: "Local disk" },
      { prefix: "job-id", label: "Chinook nightly" },
      { prefix: "job-id/2026", label: "2026" },
    ]);
  });
  it("suggests a copy beside the original", () => {
    expect(copyTarget("a/b.tar.gz")).toBe("a/b-copy.tar.gz");
    expect(copyTarget("manifest")).toBe("manifest-copy");
    expect(copyTarget(".env")).toBe(".env-copy");
  });
});
