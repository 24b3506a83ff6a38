import { describe, expect, it } from "vitest";
import { filterMatcher } from "../src/filter.js";
import { seededRandom } from "./random.js";

describe("filterMatcher (the API's filter semantics)", () => {
  it("matches everything when missing or empty", () => {
    for (const pattern of [undefined, null, ""]) {
      expect(filterMatcher(pattern)("anything")).toBe(true);
      expect(filterMatcher(pattern)("")).toBe(true);
    }
  });

  it("is an exact, case-sensitive match without a wildcard", () => {
    const billy = filterMatcher("billy");
    expect(billy("billy")).toBe(true);
    expect(billy("Billy")).toBe(false);
    expect(billy("billy2")).toBe(false);
    expect(billy("xbilly")).toBe(false);
  });

  it("treats * as any run of characters, the empty run included", () => {
    expect(filterMatcher("adm*")("admin")).toBe(true);
    expect(filterMatcher("adm*")("adm")).toBe(true);
    expect(filterMatcher("adm*")("Admin")).toBe(false);
    expect(filterMatcher("*@example.com")("ann@example.com")).toBe(true);
    expect(filterMatcher("*@example.com")("ann@example.co")).toBe(false);
    expect(filterMatcher("*")("")).toBe(true);
    expect(filterMatcher("**")("x")).toBe(true);
    expect(filterMatcher("a*b*c")("abc")).toBe(true);
    expect(filterMatcher("a*b*c")("a-b-b-c")).toBe(true);
    expect(filterMatcher("a*b*c")("acb")).toBe(false);
    expect(filterMatcher("*mid*")("a mid b")).toBe(true);
  });

  it("does not let the prefix and suffix overlap", () => {
    expect(filterMatcher("ab*ba")("aba")).toBe(false);
    expect(filterMatcher("ab*ba")("abba")).toBe(true);
    expect(filterMatcher("a*x*a")("axa")).toBe(true);
    expect(filterMatcher("a*xa*a")("axa")).toBe(false);
  });

  it("takes every other character literally (no regular expressions)", () => {
    expect(filterMatcher("a.c")("abc")).toBe(false);
    expect(filterMatcher("a.c")("a.c")).toBe(true);
    expect(filterMatcher("[x]*")("[x]yz")).toBe(true);
    expect(filterMatcher("(.*)")("(anything)")).toBe(false);
    expect(filterMatcher("?")("a")).toBe(false);
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
      expect(filterMatcher(pattern)(value), `${JSON.stringify(pattern)} vs ${JSON.stringify(value)}`).toBe(expected);
    }
  });
});

