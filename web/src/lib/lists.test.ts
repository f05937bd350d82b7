import { describe, expect, it } from "vitest";
import { toggle } from "./lists";

describe("toggle", () => {
  it("toggles an item once, in a given order", () => {
    expect(toggle(["b"], "a", true, ["a", "b", "c"])).toEqual(["a", "b"]);
    expect(toggle(["a", "b"], "a", false)).toEqual(["b"]);
    expect(toggle(["a"], "a", true)).toEqual(["a"]);
  });
});
