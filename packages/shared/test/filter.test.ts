import { describe, expect, it } from "vitest";
import { compileWildcard } from "@sessionlens/shared";

const matches = (filter: string | undefined, value: string) => (compileWildcard(filter) ?? (() => true))(value);

describe("compileWildcard", () => {
  it("matches everything for a missing, empty or all-star filter", () => {
    for (const filter of [undefined, null, "", "*", "***"]) expect(compileWildcard(filter)).toBeNull();
  });

  it("is exact and case-sensitive without a star", () => {
    expect(matches("billy", "billy")).toBe(true);
    expect(matches("billy", "Billy")).toBe(false);
    expect(matches("billy", "billy2")).toBe(false);
  });

  it("lets * match any run, the empty run too", () => {
    expect(matches("bil*", "billy")).toBe(true);
    expect(matches("bil*", "bil")).toBe(true);
    expect(matches("*ly", "billy")).toBe(true);
    expect(matches("b*l*y", "billy")).toBe(true);
    expect(matches("b*x*y", "billy")).toBe(false);
    expect(matches("ab*ba", "aba")).toBe(false); // head and tail may not overlap
    expect(matches("a*a*a", "aaa")).toBe(true);
    expect(matches("a*a*a", "aa")).toBe(false);
  });

  it("takes regular-expression characters literally", () => {
    expect(matches("a.c", "abc")).toBe(false);
    expect(matches("a.c", "a.c")).toBe(true);
    expect(matches("[x]+", "[x]+")).toBe(true);
    expect(matches("(.*)", "anything")).toBe(false);
    expect(matches("^My$*", "^My$Project")).toBe(true);
  });
});
