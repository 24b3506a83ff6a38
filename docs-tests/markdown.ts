/**
 * Reads the project's Markdown the way the doc tests need it: fenced code blocks (with the
 * marker comment before them), pipe tables, links and headings. Deliberately small: our docs
 * use plain CommonMark fences and GitHub pipe tables, nothing else.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

export const ROOT = join(import.meta.dirname, "..");

/** Every Markdown file users read, relative to the root: READMEs, the changelog, docs/. */
export function docFiles(): string[] {
  const files = ["README.md", "CHANGELOG.md", "bench/README.md", "bench/RESULTS.md", "packages/collector/status-page/README.md", "docs-tests/README.md"];
  for (const parent of ["packages", "examples"]) {
    for (const name of readdirSync(join(ROOT, parent))) files.push(`${parent}/${name}/README.md`);
  }
  const walk = (dir: string): void => {
    if (!existsSync(join(ROOT, dir))) return;
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      if (entry.isDirectory()) walk(`${dir}/${entry.name}`);
      else if (entry.name.endsWith(".md")) files.push(`${dir}/${entry.name}`);
    }
  };
  walk("docs");
  return [...new Set(files)].filter((file) => existsSync(join(ROOT, file))).sort();
}

export interface Doc {
  /** Path relative to the root, e.g. `packages/agent/README.md`. */
  file: string;
  text: string;
  lines: string[];
}

export function readDoc(file: string): Doc {
  const text = readFileSync(join(ROOT, file), "utf8");
  return { file, text, lines: text.split("\n") };
}

export function relativeToRoot(path: string): string {
  return relative(ROOT, path);
}

export interface CodeBlock {
  doc: Doc;
  /** 1-based line of the opening fence. */
  line: number;
  /** The info string's first word, lower-cased (`ts`, `sh`, `` for none). */
  lang: string;
  code: string;
  /**
   * The marker comment right before the fence (blank lines allowed between), e.g.
   * `<!-- illustrative: needs a browser page -->` -> `{ kind: "illustrative", reason: "needs a browser page" }`.
   */
  marker: { kind: string; reason: string } | null;
  /** The heading the block sits under. */
  heading: string;
}

/** `file:line`, for failure messages that point at the README. */
export function where(block: { doc: Doc; line: number }): string {
  return `${block.doc.file}:${block.line}`;
}

export function codeBlocks(doc: Doc): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  let heading = "";
  for (let i = 0; i < doc.lines.length; i++) {
    const line = doc.lines[i]!;
    const heads = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heads) heading = heads[2]!.trim();
    const open = /^(\s*)(`{3,}|~{3,})\s*([^`\s]*)/.exec(line);
    if (!open) continue;
    const fence = open[2]!;
    const body: string[] = [];
    let j = i + 1;
    while (j < doc.lines.length && !doc.lines[j]!.trimStart().startsWith(fence)) body.push(doc.lines[j++]!);
    let k = i - 1;
    while (k >= 0 && doc.lines[k]!.trim() === "") k--;
    const comment = k >= 0 ? /^<!--\s*([\w -]+?)\s*:\s*(.*?)\s*-->\s*$/.exec(doc.lines[k]!.trim()) : null;
    blocks.push({
      doc,
      line: i + 1,
      lang: open[3]!.toLowerCase(),
      code: body.join("\n"),
      marker: comment ? { kind: comment[1]!.toLowerCase(), reason: comment[2]! } : null,
      heading,
    });
    i = j;
  }
  return blocks;
}

/** The doc's text with fenced code blocks blanked out (so prose checks skip code). */
export function prose(doc: Doc): string {
  const out = [...doc.lines];
  for (const block of codeBlocks(doc)) {
    const end = block.line + block.code.split("\n").length;
    for (let i = block.line - 1; i <= end && i < out.length; i++) out[i] = "";
  }
  return out.join("\n");
}

export interface Table {
  doc: Doc;
  line: number;
  heading: string;
  header: string[];
  rows: { line: number; cells: string[] }[];
}

/** GitHub pipe tables, outside code blocks. */
export function tables(doc: Doc): Table[] {
  const lines = prose(doc).split("\n");
  const found: Table[] = [];
  let heading = "";
  for (let i = 0; i < lines.length; i++) {
    const heads = /^(#{1,6})\s+(.*)$/.exec(lines[i]!);
    if (heads) heading = heads[2]!.trim();
    if (!lines[i]!.startsWith("|") || !/^\|\s*:?-{3,}/.test(lines[i + 1] ?? "")) continue;
    const table: Table = { doc, line: i + 1, heading, header: splitRow(lines[i]!), rows: [] };
    let j = i + 2;
    for (; j < lines.length && lines[j]!.startsWith("|"); j++) table.rows.push({ line: j + 1, cells: splitRow(lines[j]!) });
    found.push(table);
    i = j;
  }
  return found;
}

function splitRow(line: string): string[] {
  const cells: string[] = [];
  let cell = "";
  let inCode = false;
  const body = line.trim().replace(/^\|/, "").replace(/\|$/, "");
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === "\\" && body[i + 1] === "|") {
      cell += "|";
      i++;
    } else if (ch === "`") {
      inCode = !inCode;
      cell += ch;
    } else if (ch === "|" && !inCode) {
      cells.push(cell.trim());
      cell = "";
    } else cell += ch;
  }
  cells.push(cell.trim());
  return cells;
}

/** The `code spans` of a piece of Markdown, without their backticks. */
export function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);
}

/** Tables whose header starts with the given cells (case-insensitive), from one doc. */
export function findTables(doc: Doc, ...firstHeaders: string[]): Table[] {
  return tables(doc).filter((table) =>
    firstHeaders.every((name, i) => (table.header[i] ?? "").toLowerCase() === name.toLowerCase()),
  );
}

export interface Link {
  doc: Doc;
  line: number;
  target: string;
}

/** Markdown links and images `[text](target)` outside code blocks. */
export function links(doc: Doc): Link[] {
  const found: Link[] = [];
  prose(doc)
    .split("\n")
    .forEach((line, i) => {
      for (const match of line.replace(/`[^`]*`/g, "").matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
        found.push({ doc, line: i + 1, target: match[1]! });
      }
    });
  return found;
}

/** GitHub's anchor for a heading. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, "")
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

export function headings(doc: Doc): string[] {
  return prose(doc)
    .split("\n")
    .map((line) => /^#{1,6}\s+(.*)$/.exec(line)?.[1])
    .filter((heading): heading is string => heading !== undefined);
}
