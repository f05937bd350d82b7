import { describe, expect, it } from "vitest";
import { translator } from "./index";

const english = import.meta.glob<{ default: Record<string, string> }>("./en/*.ts", { eager: true });
const portuguese = import.meta.glob<{ default: Record<string, string> }>("./pt-BR/*.ts", { eager: true });

describe("message catalogs", () => {
  it("fills {placeholders} and falls back to English", () => {
    const t = translator("pt-BR");
    expect(t("common.pageOf", { page: 2, pages: 5 })).toBe("Página 2 de 5");
    expect(translator("en")("nav.signedInAs", { name: "ana", role: "admin" })).toBe("Signed in as ana (admin)");
    // A missing variable stays visible rather than reading "undefined".
    expect(translator("en")("common.min", {})).toBe("At least {n}.");
  });

  it("has every text in Brazilian Portuguese, with the same placeholders", () => {
    const areas = Object.keys(english).map((p) => p.replace("./en/", ""));
    expect(areas.length).toBeGreaterThan(5);
    for (const area of areas) {
      const en = english[`./en/${area}`].default;
      const pt = portuguese[`./pt-BR/${area}`]?.default ?? {};
      expect(Object.keys(en).filter((k) => !(k in pt)), area).toEqual([]);
      for (const [key, text] of Object.entries(pt)) {
        const vars = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
        expect(vars(text), `${area} ${key}`).toEqual(vars(en[key] ?? ""));
      }
    }
  });
});
