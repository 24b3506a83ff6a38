import type { SessionFilter } from "@sessionlens/shared";
import type { FieldMatcher, StoreQuery } from "../store/types.js";

const MATCH_ANY: FieldMatcher = { any: true, exact: null, test: () => true };

/**
 * Compiles one filter: exact and case-sensitive, `*` matches any run of characters (the empty run
 * too), every other character is literal (no regular expressions, so `.` or `[` mean themselves).
 * A missing or empty filter matches everything.
 */
export function compileFilter(filter: string | undefined | null): FieldMatcher {
  if (filter == null || filter === "" || /^\*+$/.test(filter)) return MATCH_ANY;
  if (!filter.includes("*")) {
    const exact = filter;
    return { any: false, exact, test: (value) => value === exact };
  }
  const parts = filter.split("*");
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  const middle = parts.slice(1, -1).filter((part) => part !== "");
  const minLength = parts.reduce((sum, part) => sum + part.length, 0);
  return {
    any: false,
    exact: null,
    test(value) {
      if (value.length < minLength || !value.startsWith(first) || !value.endsWith(last)) return false;
      // Leftmost match of each middle part is always safe for `*`-only patterns.
      let position = first.length;
      const end = value.length - last.length;
      for (const part of middle) {
        const found = value.indexOf(part, position);
        if (found === -1 || found + part.length > end) return false;
        position = found + part.length;
      }
      return true;
    },
  };
}

export function compileQuery(filter: SessionFilter): StoreQuery {
  return { username: compileFilter(filter.usernameFilter), project: compileFilter(filter.projectFilter) };
}

/**
 * Accepts both call forms of `getSessionInfo`: `(usernameFilter?, projectFilter?)` and
 * `({ usernameFilter, projectFilter })`.
 */
export function normaliseFilter(first?: string | SessionFilter | null, projectFilter?: string | null): SessionFilter {
  if (first !== null && typeof first === "object") {
    return { usernameFilter: first.usernameFilter ?? undefined, projectFilter: first.projectFilter ?? undefined };
  }
  return { usernameFilter: first ?? undefined, projectFilter: projectFilter ?? undefined };
}
