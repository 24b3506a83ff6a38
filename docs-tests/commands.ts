/**
 * How the doc tests read shell blocks: commands, their comments and shown output, what kind each
 * is, and the checks that need no process (pnpm scripts and paths exist; output matches).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, type CodeBlock } from "./markdown.js";

/** The live ids a command's example ids are replaced with. */
export interface LiveIds {
  sessionId: string;
  pageId: string;
}

export const BIN = "packages/collector/bin/sessionlens.js";

export interface Command {
  text: string;
  /** Comment lines right above it (statuses like "(204 / 404)"). */
  comment: string;
  /** Output the docs show for it (lines after a `$ ` prompt, or a `# ` line right after it). */
  output: string[];
  line: number;
}

/** Splits a block into commands: `$ ` prompts when there are any, else every line; `\` joins lines. */
export function parseCommands(block: CodeBlock): { prelude: string[]; commands: Command[] } {
  const lines = block.code.split("\n");
  const prompted = lines.some((line) => line.startsWith("$ "));
  const prelude: string[] = [];
  const commands: Command[] = [];
  let comment: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    const at = block.line + 1 + i;
    if (prompted && !line.startsWith("$ ")) {
      if (line.trim() !== "") commands.at(-1)?.output.push(line);
      continue;
    }
    if (prompted) line = line.slice(2);
    if (line.trim() === "") {
      comment = [];
      continue;
    }
    if (line.trimStart().startsWith("#")) {
      // `# {...}` right after a command is its output; other comments describe the next command.
      const previous = commands.at(-1);
      if (previous && previous.line === at - 1 && /^#\s*[{[]/.test(line.trim())) previous.output.push(line.trim().replace(/^#\s*/, ""));
      else comment.push(line);
      continue;
    }
    while (line.endsWith("\\") && i + 1 < lines.length) line = `${line.slice(0, -1).trimEnd()} ${lines[++i]!.trim()}`;
    line = stripTrailingComment(line);
    if (/^\w+=\S*(;\s*\w+=("[^"]*"|\S*))*;?$/.test(line.trim()) || /^\w+=.*;\s*\w+=/.test(line)) {
      prelude.push(line);
      continue;
    }
    commands.push({ text: line.trim(), comment: comment.join("\n"), output: [], line: at });
    comment = [];
  }
  return { prelude, commands };
}

export function stripTrailingComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "#" && /\s/.test(line[i - 1] ?? "")) return line.slice(0, i).trimEnd();
  }
  return line;
}

/** `a && b; c` -> ["a", "b", "c"] (outside quotes). */
export function parts(command: string): string[] {
  const out: string[] = [];
  let current = "";
  let quote: string | null = null;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === ";" || (ch === "&" && command[i + 1] === "&")) {
      out.push(current.trim());
      current = "";
      if (ch === "&") i++;
      continue;
    }
    current += ch;
  }
  out.push(current.trim());
  return out.filter(Boolean);
}

/** Leading `VAR=value` words of a command. */
export const withoutEnv = (part: string): string => part.replace(/^(\w+=("[^"]*"|'[^']*'|\S*)\s+)+/, "");

export type Kind = "curl" | "cli" | "serve" | "python" | "static";

export function kindOf(part: string): Kind | null {
  const words = withoutEnv(part).split(/\s+/);
  const [first, second, third] = words;
  if (first === "curl") return "curl";
  if (first === "python3") return "python";
  const cli = first === "sessionlens" ? second : first === "node" && second === BIN ? third : undefined;
  if (cli !== undefined) return cli === "serve" ? "serve" : "cli";
  if (first === "pnpm" || first === "npx" || first === "node" || first === "cd" || (first === "npm" && /^(install|i|add)$/.test(second ?? ""))) return "static";
  return null;
}

/** Packages of the workspace by name: their folder and scripts. */
export function workspacePackages(): Map<string, { dir: string; scripts: Record<string, string>; private: boolean }> {
  const found = new Map<string, { dir: string; scripts: Record<string, string>; private: boolean }>();
  const add = (dir: string): void => {
    const file = join(ROOT, dir, "package.json");
    if (!existsSync(file)) return;
    const pkg = JSON.parse(readFileSync(file, "utf8")) as { name: string; scripts?: Record<string, string>; private?: boolean };
    found.set(pkg.name, { dir, scripts: pkg.scripts ?? {}, private: pkg.private === true });
  };
  add(".");
  for (const parent of ["packages", "examples"]) for (const name of readdirSync(join(ROOT, parent))) add(`${parent}/${name}`);
  add("packages/collector/status-page");
  add("bench");
  return found;
}

const PNPM_BUILTINS = new Set(["install", "i", "add", "pack", "exec", "dlx", "publish", "why", "list", "ls", "outdated", "update", "remove"]);

/** Checks a command that is not run: what it names must exist. Returns a problem or null. */
export function checkStatic(part: string): string | null {
  const words = withoutEnv(part).split(/\s+/);
  if (words[0] === "cd") return existsSync(join(ROOT, words[1]!)) ? null : `no folder ${words[1]}`;
  if (words[0] === "node") {
    return existsSync(join(ROOT, words[1]!)) ? null : `no file ${words[1]}`;
  }
  let args = words;
  if (args[0] === "npx" && args[1] === "-y" && /^pnpm(@|$)/.test(args[2] ?? "")) args = ["pnpm", ...args.slice(3)];
  if (args[0] === "npx" && /^(vitest|tsc|eslint)$/.test(args[1] ?? "")) {
    const paths = args.slice(2).filter((arg) => !arg.startsWith("-") && arg !== "run");
    const missing = paths.filter((path) => !existsSync(join(ROOT, path)));
    return missing.length === 0 ? null : `no such path: ${missing.join(", ")}`;
  }
  if (args[0] === "npm" && /^(install|i|add)$/.test(args[1] ?? "")) {
    // `npm install @sessionlens/agent`: a package of this workspace that is published (not private).
    const published = new Set([...workspacePackages().entries()].filter(([, pkg]) => !pkg.private).map(([name]) => name));
    const names = args.slice(2).filter((arg) => !arg.startsWith("-")).map((arg) => arg.replace(/(?<=.)@[^/]*$/, ""));
    const unknown = names.filter((name) => !published.has(name));
    return unknown.length === 0 ? null : `npm install: ${unknown.join(", ")} is no published package of this repository`;
  }
  if (args[0] !== "pnpm") return "not a command the doc tests know: mark the block <!-- illustrative: why --> or teach docs-tests/shell.test.ts";
  const packages = workspacePackages();
  let target = packages.get(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).name as string)!;
  let recursive = false;
  const rest: string[] = [];
  for (let i = 1; i < args.length; i++) {
    if (args[i] === "--filter" || args[i] === "-F") {
      const name = args[++i]!;
      const found = packages.get(name);
      if (!found) return `pnpm --filter ${name}: no such workspace package`;
      target = found;
    } else if (args[i] === "-r" || args[i] === "--recursive") recursive = true;
    else if (!args[i]!.startsWith("-")) rest.push(args[i]!);
  }
  const script = rest[0] === "run" ? rest[1] : rest[0];
  if (script === undefined || PNPM_BUILTINS.has(script)) return null;
  if (recursive) return [...packages.values()].some((pkg) => script in pkg.scripts) ? null : `no package has a "${script}" script`;
  return script in target.scripts ? null : `${target.dir}/package.json has no "${script}" script`;
}

/** The example ids of the docs (21-character nanoids) become the live session's and page's. */
export function substituteIds(text: string, live: LiveIds): string {
  return text.replace(/(\/pages\/)?(?<![\w-])([A-Za-z0-9_-]{21})(?![\w-])/g, (match, pages: string | undefined, id: string) =>
    /\d/.test(id) && /[A-Z]/.test(id) && /[a-z]/.test(id) ? `${pages ?? ""}${pages ? live.pageId : live.sessionId}` : match,
  );
}

/** What a command printed against what the docs show (the JSON keys, or the first line): a problem, or null. */
export function compareOutput(documented: string, actual: string): string | null {
  const doc = documented.trim();
  if (doc === "") return null;
  if (doc.startsWith("[") || doc.startsWith("{")) {
    const shown = [...new Set([...doc.matchAll(/"(\w+)":/g)].map(([, key]) => key!))].sort();
    let parsed: unknown;
    try {
      parsed = JSON.parse(actual);
    } catch {
      return `printed no JSON: ${actual.slice(0, 200)}`;
    }
    const first = Array.isArray(parsed) ? (parsed[0] as unknown) : parsed;
    if (first === null || typeof first !== "object") return `printed nothing to compare with the docs: ${actual.slice(0, 200)}`;
    const keys = Object.keys(first).sort();
    // A shown object that ends in `...` shows some keys; a complete one shows all of them.
    const missing = shown.filter((key) => !keys.includes(key));
    const extra = doc.includes("...") ? [] : keys.filter((key) => !shown.includes(key));
    return missing.length + extra.length === 0 ? null : `keys differ from the docs: missing ${missing.join(", ") || "none"}, not shown ${extra.join(", ") || "none"}`;
  }
  // Times differ from run to run: an ISO timestamp matches any other.
  const norm = (line: string | undefined): string =>
    (line ?? "").trim().replace(/\s+/g, " ").replace(/\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\b/g, "<time>");
  const [want, got] = [norm(doc.split("\n")[0]), norm(actual.split("\n")[0])];
  return want === got ? null : `printed "${got}", the docs show "${want}"`;
}
