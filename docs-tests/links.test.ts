/**
 * Links and file names in the docs point at things that exist: relative links resolve (files,
 * folders and `#anchors`), and a file or test named in prose (`SPEC.md`, `agent.integration.test.ts`)
 * is in the repository.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { docFiles, headings, links, prose, readDoc, ROOT, slug } from "./markdown.js";

const docs = docFiles().map(readDoc);
/** Every tracked or new (not ignored) file of the repository, relative to the root. */
const repoFiles = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" })
  .split("\n")
  .filter(Boolean);
const baseNames = new Set(repoFiles.map((file) => file.split("/").pop()!));

function ignored(path: string): boolean {
  try {
    execFileSync("git", ["check-ignore", "-q", path], { cwd: ROOT });
    return true;
  } catch {
    return false;
  }
}

describe.each(docs.map((doc) => [doc.file, doc] as const))("%s", (_file, doc) => {
  it("has relative links that resolve", () => {
    const broken: string[] = [];
    for (const link of links(doc)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) continue; // http:, https:, mailto:
      const [path, anchor] = link.target.split("#") as [string, string | undefined];
      const target = path === "" ? join(ROOT, doc.file) : join(ROOT, dirname(doc.file), decodeURIComponent(path));
      if (!existsSync(target)) {
        broken.push(`${doc.file}:${link.line}: ${link.target} (no such file)`);
        continue;
      }
      if (anchor && statSync(target).isFile() && target.endsWith(".md")) {
        const anchors = headings(readDoc(target.slice(ROOT.length + 1))).map(slug);
        if (!anchors.includes(anchor)) broken.push(`${doc.file}:${link.line}: ${link.target} (no heading #${anchor})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("names only files that exist (`*.md`, `*.test.ts`, `*.ts`, `*.mjs`, `*.py` mentioned in prose)", () => {
    const missing: string[] = [];
    prose(doc)
      .split("\n")
      .forEach((line, i) => {
        // Strip URLs: a file name inside a link target or an address is not a claim about this repository.
        const text = line.replace(/\]\([^)]*\)/g, "]").replace(/https?:\/\/\S+/g, "");
        for (const match of text.matchAll(/(?<![\w./-])((?:[\w.-]+\/)*[\w.-]+\.(?:md|test\.ts|ts|mjs|py))(?![\w/])/g)) {
          const name = match[1]!;
          if (/^(?:\d|\.)/.test(name) || name.endsWith(".d.ts")) continue;
          const found = name.includes("/")
            ? repoFiles.some((file) => file === name || file.endsWith(`/${name}`)) || existsSync(join(ROOT, dirname(doc.file), name))
            : baseNames.has(name);
          // Generated output (bench/results/..., test-artifacts/...) is git-ignored: it exists once made.
          if (!found && !ignored(name)) missing.push(`${doc.file}:${i + 1}: ${name}`);
        }
      });
    expect(missing, "files named in the docs that the repository does not have").toEqual([]);
  });
});

describe("tests the docs describe", () => {
  it("exist with the modifiers the docs give them (it.fails, it.skip, it.todo)", () => {
    const tests = repoFiles.filter((file) => file.endsWith(".test.ts") && !file.startsWith("docs-tests/"));
    const sources = tests.map((file) => readFileSync(join(ROOT, file), "utf8")).join("\n");
    const stale: string[] = [];
    for (const doc of docs) {
      for (const [modifier] of prose(doc).matchAll(/\b(?:it|test|describe)\.(?:fails|skip|todo|only)\b/g)) {
        if (!sources.includes(`${modifier}(`)) stale.push(`${doc.file}: ${modifier} (no test uses it)`);
      }
    }
    expect(stale).toEqual([]);
  });
});

describe("testing/ helpers", () => {
  it("that the docs name are each used by a test (a helper described but imported by nothing is a stale claim)", () => {
    const tests = repoFiles.filter((file) => /\.test\.ts$/.test(file) || /test\/.*\.ts$/.test(file));
    const sources = tests.map((file) => readFileSync(join(ROOT, file), "utf8")).join("\n");
    // Named: on a line of a doc that mentions testing/ (the layout's `testing/  helpers for ... (chromium.ts)`).
    const named = (file: string): boolean =>
      docs.some((doc) => doc.lines.some((line) => line.includes("testing/") && line.includes(file.slice("testing/".length))));
    const unused = repoFiles
      .filter((file) => /^testing\/[^/]+\.ts$/.test(file) && named(file))
      .filter((file) => !new RegExp(`testing/${file.slice("testing/".length, -3)}(\\.js)?["']`).test(sources));
    expect(unused).toEqual([]);
  });
});
