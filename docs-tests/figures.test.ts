/**
 * Figures the docs quote that the build can measure: the agent's IIFE size ("about N KiB
 * min+gzip", anywhere in the docs) must be within 3% of what `packages/agent/scripts/build.mjs`
 * produces now, gzipped at level 9 as `packages/agent/test/build.test.ts` does. An exact byte count
 * of the bundle in the docs is refused: it goes stale with the next commit (that test prints it).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docFiles, prose, readDoc, ROOT } from "./markdown.js";

let dir: string;
let minified: number;
let gzipped: number;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sessionlens-docs-size-"));
  const outfile = join(dir, "sessionlens-agent.iife.js");
  execFileSync(process.execPath, [join(ROOT, "packages/agent/scripts/build.mjs"), outfile], { stdio: "inherit" });
  const iife = readFileSync(outfile);
  minified = iife.length;
  gzipped = gzipSync(iife, { level: 9 }).length;
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const docs = docFiles().map(readDoc);

describe("the agent's size as the docs quote it", () => {
  it("is about what the build measures (within 3%)", () => {
    const claims: string[] = [];
    const wrong: string[] = [];
    for (const doc of docs) {
      for (const match of prose(doc).matchAll(/(?:about )?(\d+(?:\.\d+)?) ?(KiB|KB|kB)(?= min\+gzip)/g)) {
        const bytes = Number(match[1]) * (match[2] === "KiB" ? 1024 : 1000);
        claims.push(`${doc.file}: ${match[0]}`);
        if (Math.abs(bytes - gzipped) / gzipped > 0.03) {
          wrong.push(`${doc.file}: "${match[0]} min+gzip", the build is ${gzipped} B (${(gzipped / 1024).toFixed(1)} KiB) gzip -9`);
        }
      }
    }
    expect(claims.length, "the agent README states the size").toBeGreaterThan(0);
    expect(wrong).toEqual([]);
  });

  it("is never quoted as an exact byte count of today's bundle", () => {
    const exact: string[] = [];
    for (const doc of docs) {
      // Lines about the bundle itself (a dated benchmark record like bench/RESULTS.md says when it measured).
      const text = prose(doc)
        .split("\n")
        .filter((line) => line.includes("sessionlens-agent.iife.js") && !doc.file.endsWith("RESULTS.md"))
        .join("\n");
      for (const match of text.matchAll(/\b(\d{1,3}(?:,\d{3})+|\d{4,6}) ?B\b/g)) {
        const value = Number(match[1]!.replace(/,/g, ""));
        // Only figures close to the bundle's own sizes are claims about it.
        if (Math.abs(value - gzipped) / gzipped < 0.1 || Math.abs(value - minified) / minified < 0.1) exact.push(`${doc.file}: ${match[0]}`);
      }
    }
    expect(exact, "write 'about N KiB' and let the build print the exact figure").toEqual([]);
  });
});
