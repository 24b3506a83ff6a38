import { describe, expect, it } from "vitest";
import { compileFieldMatcher, normaliseFilter } from "../../src/query/filter.js";

describe("filters", () => {
  it.each([
    // filter, value, matches
    ["billy", "billy", true],
    ["billy", "Billy", false],
    ["billy", "billy2", false],
    ["bil*", "billy", true],
    ["*lly", "billy", true],
    ["b*y", "by", true],
    ["b*l*y", "billy", true],
    ["b*l*y", "bly", true],
    ["b*l*y", "bl", false],
    ["a*a", "a", false],
    ["*", "", true],
    ["*", "anything", true],
    ["b.lly", "billy", false],
    ["b.lly", "b.lly", true],
    ["(x)+[y]?$", "(x)+[y]?$", true],
    ["^bil", "billy", false],
    ["bil\\*", "bil\\xyz", true],
  ] as const)("%j matches %j: %s", (filter, value, expected) => {
    expect(compileFieldMatcher(filter).test(value)).toBe(expected);
  });

  it("a missing or empty filter matches everything; an exact one exposes its key for the index", () => {
    expect(compileFieldMatcher(undefined).any).toBe(true);
    expect(compileFieldMatcher("").any).toBe(true);
    expect(compileFieldMatcher("**").any).toBe(true);
    expect(compileFieldMatcher("billy").exact).toBe("billy");
    expect(compileFieldMatcher("bil*").exact).toBeNull();
  });

  it("accepts both call forms of getSessionInfo", () => {
    expect(normaliseFilter("billy")).toEqual({ usernameFilter: "billy", projectFilter: undefined });
    expect(normaliseFilter(undefined, "MyProject")).toEqual({ usernameFilter: undefined, projectFilter: "MyProject" });
    expect(normaliseFilter({ usernameFilter: "billy", projectFilter: "MyProject" })).toEqual({
      usernameFilter: "billy",
      projectFilter: "MyProject",
    });
    expect(normaliseFilter(null, null)).toEqual({ usernameFilter: undefined, projectFilter: undefined });
  });
});
