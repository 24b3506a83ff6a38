/**
 * The query filters' matcher, as the collector applies them: an exact,
 * case-sensitive match in which `*` matches any run of characters (no regular
 * expressions); a missing or empty filter matches everything.
 */
export type Matcher = (value: string) => boolean;

const matchAll: Matcher = () => true;

export function compileFilter(pattern: string | undefined | null): Matcher {
  if (!pattern) return matchAll;
  if (!pattern.includes("*")) return (value) => value === pattern;
  const parts = pattern.split("*");
  const head = parts[0]!;
  const tail = parts[parts.length - 1]!;
  const middle = parts.slice(1, -1).filter((part) => part !== "");
  const minLength = head.length + tail.length;
  return (value) => {
    if (value.length < minLength || !value.startsWith(head) || !value.endsWith(tail)) return false;
    // Leftmost placement of each middle part leaves the most room for the rest,
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
