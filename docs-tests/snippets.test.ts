/**
 * TypeScript and JavaScript blocks of the docs, extracted at test time (so a README edit changes
 * what runs): every one is typechecked against the packages' sources, and every one not marked
 * "typecheck only" is run in Node against a live collector (the documented 127.0.0.1:8787 rewritten
 * to it; `createCollector` in a snippet listens on port 0 with nothing on disk; an agent a snippet
 * starts must get its welcome).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { allBlocks, isIllustrative, isTypecheckOnly, TS_LANGS } from "./blocks.js";
import { signJwt, startDocCollector } from "./harness.js";
import { ROOT, where, type CodeBlock } from "./markdown.js";
import * as agentShim from "./shims/agent.js";
import * as collectorShim from "./shims/collector.js";

const GENERATED = join(ROOT, "docs-tests", ".generated");

/**
 * Names the docs' snippets use without declaring them, as if an earlier snippet or the reader's app
 * had: typechecked as these types, and given live values when the snippet runs.
 */
const GLOBALS_DTS = `import type { Collector } from "@sessionlens/collector";
declare global {
  /** The collector an earlier snippet created. */
  const collector: Collector;
  /** A session id, page id and identity JWT the reader's app has at hand. */
  const sessionId: string;
  const id: string;
  const pageId: string;
  const jwt: string;
  /** The app's own way to get an identity JWT from its backend. */
  function fetchJwt(): Promise<string>;
}
export {};
`;

const blocks = allBlocks().filter((block) => TS_LANGS.has(block.lang) && !isIllustrative(block));
const fileOf = (block: CodeBlock, suffix = ""): string =>
  join(GENERATED, `${block.doc.file.replace(/[/.]/g, "_")}_L${block.line}${suffix}.${block.lang.startsWith("j") || block.lang === "mjs" ? "mjs" : "ts"}`);

afterAll(() => rmSync(GENERATED, { recursive: true, force: true }));

/**
 * Every entry point the packages export (`@sessionlens/collector/client`...), mapped to its
 * TypeScript source (`./dist/x.d.ts` -> `src/x.ts`), so snippets typecheck against the sources.
 */
function sourcePaths(): Record<string, string[]> {
  const paths: Record<string, string[]> = {};
  for (const dir of readdirSync(join(ROOT, "packages"))) {
    const file = join(ROOT, "packages", dir, "package.json");
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, "utf8")) as { name: string; exports?: Record<string, string | { types?: string }> };
    for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
      const types = typeof target === "string" ? target : target.types;
      if (!types?.endsWith(".d.ts")) continue;
      paths[pkg.name + subpath.slice(1)] = [join(ROOT, "packages", dir, types.replace(/^\.\/dist\//, "src/").replace(/\.d\.ts$/, ".ts"))];
    }
  }
  return paths;
}

describe("TypeScript in the docs", () => {
  it("typechecks against the packages (every ts/js block not marked illustrative)", () => {
    rmSync(GENERATED, { recursive: true, force: true });
    mkdirSync(GENERATED, { recursive: true });
    writeFileSync(join(GENERATED, "globals.d.ts"), GLOBALS_DTS);
    const files = blocks.map((block) => {
      const file = fileOf(block);
      // Line 1 of the snippet stays line 1: `export {}` goes on the same line (each snippet is a module).
      writeFileSync(file, `export {}; ${block.code}\n`);
      return file;
    });
    const src = (path: string): string[] => [join(ROOT, path)];
    const program = ts.createProgram([...files, join(GENERATED, "globals.d.ts")], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
      types: ["node"],
      typeRoots: [join(ROOT, "node_modules/@types")],
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      allowJs: true,
      checkJs: true,
      baseUrl: ROOT,
      paths: { ...sourcePaths(), ws: src("packages/agent/node_modules/@types/ws/index.d.ts") },
    });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file && d.file.fileName.startsWith(GENERATED))
      .map((d) => {
        const block = blocks[files.indexOf(d.file!.fileName)];
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        const at = block ? `${block.doc.file}:${block.line + 1 + line}` : d.file!.fileName;
        return `${at}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
      });
    expect(problems).toEqual([]);
  }, 120_000);

  for (const block of blocks.filter((b) => !isTypecheckOnly(b))) {
    it(`runs ${where(block)} (${block.heading})`, async () => {
      const live = await startDocCollector();
      const globals = globalThis as Record<string, unknown>;
      Object.assign(globals, {
        collector: live.collector,
        sessionId: live.sessionId,
        id: live.sessionId,
        pageId: live.pageId,
        jwt: signJwt("billy"),
        fetchJwt: async () => signJwt("billy"),
      });
      const shim = (name: string): string => JSON.stringify(join(ROOT, "docs-tests", "shims", name));
      const code = live
        .rewrite(block.code)
        .replace(/from "@sessionlens\/collector"/g, `from ${shim("collector.ts")}`)
        .replace(/from "@sessionlens\/agent"/g, `from ${shim("agent.ts")}`)
        .replace(/from "ws"/g, `from ${shim("ws.ts")}`);
      const file = fileOf(block, "_run");
      mkdirSync(GENERATED, { recursive: true });
      writeFileSync(file, `${code}\nexport {};\n`);
      const agentsBefore = agentShim.started.length;
      const collectorsBefore = collectorShim.made.length;
      try {
        await import(/* @vite-ignore */ file);
        // An agent the snippet starts must reach the collector it names.
        for (const { connected } of agentShim.started.slice(agentsBefore)) {
          await expect(Promise.race([connected, new Promise((_, reject) => setTimeout(() => reject(new Error(`${where(block)}: the snippet's agent got no welcome in 5 s`)), 5000))])).resolves.toBeTypeOf("string");
        }
      } finally {
        for (const { agent } of agentShim.started.slice(agentsBefore)) agent.stop();
        for (const made of collectorShim.made.slice(collectorsBefore)) await made.close().catch(() => {});
        for (const name of ["collector", "sessionId", "id", "pageId", "jwt", "fetchJwt"]) delete globals[name];
        await live.close();
      }
    });
  }
});
