/** Tests one value against a compiled `getSessionInfo` filter. */
export type Matcher = (value: string) => boolean;

/**
 * Compiles a `getSessionInfo` filter: exact and case-sensitive, `*` matches any
 * run of characters (the empty run too), every other character is literal (no
 * regular expressions, so `.` or `[` mean themselves). Returns null for a
 * filter that matches everything (missing, empty, or only `*`), so callers can
 * skip the test altogether. The collector and the status page both use this.
 */
export function compileWildcard(filter: string | null | undefined): Matcher | null {
  if (filter == null || filter === "" || /^\*+$/.test(filter)) return null;
  if (!filter.includes("*")) return (value) => value === filter;
  const parts = filter.split("*");
  const head = parts[0]!;
  const tail = parts[parts.length - 1]!;
  const middle = parts.slice(1, -1).filter((part) => part !== "");
  const minLength = parts.reduce((sum, part) => sum + part.length, 0);
  return (value) => {
    if (value.length < minLength || !value.startsWith(head) || !value.endsWith(tail)) return false;
    // The leftmost placement of each middle part leaves the most room for the rest,
    // so a greedy scan decides the match.
    let from = head.length;
    const end = value.length - tail.length;
    for (const part of middle) {
      const at = value.indexOf(part, from);
      if (at < 0 || at + part.length > end) return false;
      from = at + part.length;
    }
    return true;
  };
}
