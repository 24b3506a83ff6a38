import { describe, expect, it } from "vitest";
import { compileFilter } from "../src/filter.js";
import { seededRandom } from "./random.js";

describe("compileFilter (the API's filter semantics)", () => {
  it("matches everything when missing or empty", () => {
    for (const pattern of [undefined, null, ""]) {
      expect(compileFilter(pattern)("anything")).toBe(true);
      expect(compileFilter(pattern)("")).toBe(true);
    }
  });

  it("is an exact, case-sensitive match without a wildcard", () => {
    const billy = compileFilter("billy");
    expect(billy("billy")).toBe(true);
    expect(billy("Billy")).toBe(false);
    expect(billy("billy2")).toBe(false);
    expect(billy("xbilly")).toBe(false);
  });

  it("treats * as any run of characters, the empty run included", () => {
    expect(compileFilter("adm*")("admin")).toBe(true);
    expect(compileFilter("adm*")("adm")).toBe(true);
    expect(compileFilter("adm*")("Admin")).toBe(false);
    expect(compileFilter("*@example.com")("ann@example.com")).toBe(true);
    expect(compileFilter("*@example.com")("ann@example.co")).toBe(false);
    expect(compileFilter("*")("")).toBe(true);
    expect(compileFilter("**")("x")).toBe(true);
    expect(compileFilter("a*b*c")("abc")).toBe(true);
    expect(compileFilter("a*b*c")("a-b-b-c")).toBe(true);
    expect(compileFilter("a*b*c")("acb")).toBe(false);
    expect(compileFilter("*mid*")("a mid b")).toBe(true);
  });

  it("does not let the prefix and suffix overlap", () => {
    expect(compileFilter("ab*ba")("aba")).toBe(false);
    expect(compileFilter("ab*ba")("abba")).toBe(true);
    expect(compileFilter("a*x*a")("axa")).toBe(true);
    expect(compileFilter("a*xa*a")("axa")).toBe(false);
  });

  it("takes every other character literally (no regular expressions)", () => {
    expect(compileFilter("a.c")("abc")).toBe(false);
    expect(compileFilter("a.c")("a.c")).toBe(true);
    expect(compileFilter("[x]*")("[x]yz")).toBe(true);
    expect(compileFilter("(.*)")("(anything)")).toBe(false);
    expect(compileFilter("?")("a")).toBe(false);
  });

  it("agrees with a reference regular-expression translation on random inputs", () => {
    const alphabet = ["a", "b", "*", "."];
    const random = seededRandom(42);
    const pick = (length: number): string =>
      Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join("");
    for (let i = 0; i < 3000; i++) {
      const pattern = pick(Math.floor(random() * 6));
      const value = pick(Math.floor(random() * 7)).replaceAll("*", "b");
      const escaped = pattern.replace(/[.*+?^${}()|[\]\\]/g, (c) => (c === "*" ? ".*" : `\\${c}`));
      const expected = pattern === "" || new RegExp(`^${escaped}$`, "s").test(value);
      expect(compileFilter(pattern)(value), `${JSON.stringify(pattern)} vs ${JSON.stringify(value)}`).toBe(expected);
    }
  });
});

