import { compileWildcard, type SessionFilter } from "@sessionlens/shared";
import type { FieldMatcher, SessionQuery } from "../sessions/session-index.js";

const MATCH_ANY: FieldMatcher = { any: true, exact: null, test: () => true };

/**
 * Compiles one filter into an index matcher, with the shared wildcard rules (`compileWildcard`);
 * an exact filter also names its index key.
 */
export function compileFieldMatcher(filter: string | undefined | null): FieldMatcher {
  const test = compileWildcard(filter);
  if (test === null || filter == null) return MATCH_ANY;
  return { any: false, exact: filter.includes("*") ? null : filter, test };
}

export function compileQuery(filter: SessionFilter): SessionQuery {
  return { username: compileFieldMatcher(filter.usernameFilter), project: compileFieldMatcher(filter.projectFilter) };
}

/** The query that matches every session. */
export const MATCH_ALL: SessionQuery = { username: MATCH_ANY, project: MATCH_ANY };

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
