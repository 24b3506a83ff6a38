import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runInNewContext } from "node:vm";
import { gzipSync } from "node:zlib";
import { parse, type Node } from "acorn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** The IIFE's budget, minified and gzipped (level 9). */
const BUDGET_BYTES = 16 * 1024;
const packageDir = join(import.meta.dirname, "..");

let dir: string;
let iife: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sessionlens-agent-build-"));
  const outfile = join(dir, "sessionlens-agent.iife.js");
  execFileSync(process.execPath, [join(packageDir, "scripts", "build.mjs"), outfile], { stdio: "inherit" });
  iife = readFileSync(outfile, "utf8");
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every node of an ESTree tree. */
function* walk(node: unknown): Generator<Node & Record<string, unknown>> {
  if (Array.isArray(node)) {
    for (const child of node) yield* walk(child);
  } else if (node !== null && typeof node === "object" && typeof (node as Node).type === "string") {
    yield node as Node & Record<string, unknown>;
    for (const [key, child] of Object.entries(node)) if (key !== "loc") yield* walk(child);
  }
}

/** Calls of eval, and Function used as a constructor or called: what a strict CSP forbids. */
function codeCompilation(source: string): string[] {
  const found: string[] = [];
  const ast = parse(source, { ecmaVersion: "latest", sourceType: "script" });
  for (const node of walk(ast)) {
    const callee = node["callee"] as { type: string; name?: string } | undefined;
    if ((node.type === "CallExpression" || node.type === "NewExpression") && callee?.type === "Identifier") {
      if (callee.name === "eval" || callee.name === "Function") found.push(`${callee.name} at ${node.start}`);
    }
  }
  return found;
}

describe("the IIFE build", () => {
  it(`is at most ${BUDGET_BYTES} bytes minified and gzipped`, () => {
    const gzipped = gzipSync(iife, { level: 9 }).length;
    console.log(`[size] sessionlens-agent.iife.js: ${iife.length} B minified, ${gzipped} B gzip -9 (budget ${BUDGET_BYTES})`);
    expect(gzipped).toBeLessThanOrEqual(BUDGET_BYTES);
  });

  it("parses as ES2019 (old mobile webviews)", () => {
    expect(() => parse(iife, { ecmaVersion: 2019, sourceType: "script" })).not.toThrow();
  });

  it("never compiles code: no eval, no Function constructor (strict CSP)", () => {
    expect(codeCompilation(iife)).toEqual([]);
    expect(iife).not.toMatch(/\beval\s*\(|new\s+Function\b/);
    // The checker itself finds them.
    expect(codeCompilation("eval('1'); new Function('return 1'); Function('x')")).toHaveLength(3);
  });

  it("exposes window.SessionLens.startAgent when run as a classic script", () => {
    // Nothing but what @msgpack/msgpack reads at load: the agent itself does no work until started.
    const window: Record<string, unknown> = { TextEncoder, TextDecoder };
    window["window"] = window;
    runInNewContext(iife, window);
    const api = window["SessionLens"] as { startAgent?: unknown };
    expect(typeof api?.startAgent).toBe("function");
  });
});

describe("the ESM build", () => {
  const dist = join(packageDir, "dist");
  it.skipIf(!existsSync(dist) && process.env["CI"] !== "true")("is ES2019 too (tsc target)", () => {
    const files = readdirSync(dist).filter((file) => file.endsWith(".js") && !file.endsWith(".iife.js"));
    expect(files).toContain("index.js");
    for (const file of files) {
      expect(() => parse(readFileSync(join(dist, file), "utf8"), { ecmaVersion: 2019, sourceType: "module" }), file).not.toThrow();
    }
  });
});
