/**
 * The query filters' matcher, exactly as the collector applies them (one
 * implementation, in @sessionlens/shared): an exact, case-sensitive match in
 * which `*` matches any run of characters; a missing or empty filter matches everything.
 */
import { compileWildcard, type Matcher } from "@sessionlens/shared";

export type { Matcher };

const matchAll: Matcher = () => true;

export function filterMatcher(pattern: string | undefined | null): Matcher {
  return compileWildcard(pattern) ?? matchAll;
}
