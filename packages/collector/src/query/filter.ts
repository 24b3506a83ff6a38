import { compileWildcard, type SessionFilter } from "@sessionlens/shared";
import type { FieldMatcher, StoreQuery } from "../store/types.js";

const MATCH_ANY: FieldMatcher = { any: true, exact: null, test: () => true };

/** Compiles one filter with the shared wildcard rules; an exact filter also names its index key. */
export function compileFilter(filter: string | undefined | null): FieldMatcher {
  const test = compileWildcard(filter);
  if (test === null || filter == null) return MATCH_ANY;
  return { any: false, exact: filter.includes("*") ? null : filter, test };
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
