/**
 * Shell blocks of the docs, extracted at test time. Each command is run, or checked without running
 * when running it here makes no sense (a build, the test suite itself, a benchmark):
 *
 * - `curl ...`: run against a live collector holding one session (user billy, project MyProject);
 *   the documented 127.0.0.1:8787 becomes its address and the example session/page ids become its
 *   ids. Each answer must be a success, or an error status that the comment above the command
 *   names ("(204 / 404)").
 * - `sessionlens ...` (the installed command) and `node packages/collector/bin/sessionlens.js ...`:
 *   `serve` is started on port 0 with a temporary data dir, must log the documented "listening"
 *   line, and must stop cleanly on SIGINT (logs "stopped", exit 0); other commands run against the
 *   live collector and must exit 0 and print what the docs show (first line, or the JSON keys;
 *   ISO times match any time). One that runs until Ctrl-C (`--watch`) gets SIGINT after its first line.
 * - `python3 ...`: run like the commands above.
 * - `pnpm`/`npx -y pnpm@10` scripts, `npx vitest|tsc|eslint <paths>`, `node <script>`: checked to
 *   exist (the script in the right package.json, the paths on disk), not run.
 * Anything else fails: mark the block `<!-- illustrative: why -->` or teach this file.
 */
import { execFile, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allBlocks, isIllustrative, SHELL_LANGS } from "./blocks.js";
import { BIN, checkStatic, compareOutput, kindOf, parseCommands, parts, substituteIds, withoutEnv, type Command } from "./commands.js";
import { startDocCollector, type DocCollector } from "./harness.js";
import { ROOT, where, type CodeBlock } from "./markdown.js";

const TOKEN = "docs-tests-api-token";

function run(script: string, env: NodeJS.ProcessEnv, timeoutMs = 15_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("bash", ["-c", script], { cwd: ROOT, env, timeout: timeoutMs }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const blocks = allBlocks().filter((block) => SHELL_LANGS.has(block.lang) && !isIllustrative(block));
/** Whether a program is on the PATH. */
const has = (program: string): boolean => spawnSync("bash", ["-c", `command -v ${program}`]).status === 0;
const python = has("python3");
const curl = has("curl");

describe("shell commands in the docs", () => {
  let binDir: string;
  let baseEnv: NodeJS.ProcessEnv;
  beforeAll(() => {
    if (!existsSync(join(ROOT, "packages/collector/dist/cli/index.js"))) {
      throw new Error("the shell examples run the built CLI: run `npx -y pnpm@10 build` first (`pnpm test` does)");
    }
    // What installing the collector package gives: a `sessionlens` on the PATH.
    binDir = mkdtempSync(join(tmpdir(), "sessionlens-docs-bin-"));
    writeFileSync(join(binDir, "sessionlens"), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, BIN)}" "$@"\n`);
    chmodSync(join(binDir, "sessionlens"), 0o755);
    baseEnv = {
      ...process.env,
      PATH: `${binDir}:${process.env["PATH"]}`,
      JWT_SECRET: "docs-tests-jwt-secret",
      API_TOKEN: TOKEN,
      SESSIONLENS_API_TOKEN: "",
    };
  });
  afterAll(() => {
    if (binDir) rmSync(binDir, { recursive: true, force: true });
  });

  it("finds the blocks", () => expect(blocks.length).toBeGreaterThan(3));

  for (const block of blocks) {
    it(`${where(block)} (${block.heading})`, async () => {
      const { prelude, commands } = parseCommands(block);
      // A live collector per block: a block that closes its session leaves the next one intact.
      const live = await startDocCollector();
      const env = { ...baseEnv, SESSIONLENS_URL: live.url };
      try {
        await runBlock(block, prelude, commands, live, env);
      } finally {
        await live.close();
      }
    }, 60_000);
  }

  async function runBlock(block: CodeBlock, prelude: string[], commands: Command[], live: DocCollector, env: NodeJS.ProcessEnv): Promise<void> {
    {
      expect(commands.length, `${where(block)}: no commands`).toBeGreaterThan(0);
      // `TOKEN=...` placeholders get real values.
      const setup = prelude.map((line) => live.rewrite(line).replace(/\bTOKEN=\.\.\./, `TOKEN=${TOKEN}`).replace(/=\.\.\.(?=;|$)/g, "=placeholder"));
      for (const command of commands) {
        const at = `${block.doc.file}:${command.line}`;
        const kinds = parts(command.text).map(kindOf);
        if (kinds.some((kind) => kind === null)) throw new Error(`${at}: \`${command.text}\`: not a command the doc tests know: mark the block <!-- illustrative: why --> or teach docs-tests/shell.test.ts`);
        if (kinds.every((kind) => kind === "static")) {
          const problems = parts(command.text).map(checkStatic).filter(Boolean);
          expect(problems, `${at}: ${command.text}`).toEqual([]);
          continue;
        }
        if (kinds.includes("serve")) {
          await checkServe(at, command, env);
          continue;
        }
        const missing = kinds.includes("python") && !python ? "python3" : kinds.includes("curl") && !curl ? "curl" : null;
        if (missing) {
          if (process.env["CI"] === "true") throw new Error(`${at}: ${missing} is missing (.ci/run installs it)`);
          console.warn(`[skip] ${at}: no ${missing} on the PATH`);
          continue;
        }
        const text = substituteIds(live.rewrite(command.text), live);
        const curlWrapper = `curl() { command curl --max-time 2 -w '\\n__STATUS__ %{http_code}\\n' "$@"; }`;
        const watching = kinds.includes("cli") && /\s--watch\b/.test(text);
        const result = watching ? await runUntilInterrupted(text, env) : await run([curlWrapper, ...setup, text].join("\n"), env);
        const streaming = /curl\s.*-\w*N/.test(text);
        // 130: a pipe's last command (`| cat`) interrupted by the same Ctrl-C.
        const ok = result.code === 0 || (streaming && result.code === 28) || (watching && result.code === 130);
        expect(ok, `${at}: \`${text}\` exited ${result.code}: ${result.stderr}`).toBe(true);
        if (kinds.includes("curl")) {
          const allowed = [...command.comment.matchAll(/\b[1-5]\d\d\b/g)].map(([n]) => Number(n));
          for (const [, status] of result.stdout.matchAll(/__STATUS__ (\d+)/g)) {
            const code = Number(status);
            // A success is always what the docs mean; an error status must be one the comment names.
            const ok = code < 400 || allowed.includes(code);
            expect(ok, `${at}: \`${text}\` answered ${code}; the docs name ${allowed.join(" / ") || "no error status"}\n${result.stdout.slice(0, 300)}`).toBe(true);
          }
        }
        const problem = compareOutput(substituteIds(live.rewrite(command.output.join("\n")), live), result.stdout.replace(/\n?__STATUS__ \d+\n?/g, ""));
        expect(problem, `${at}: \`${text}\``).toBeNull();
      }
    }
  }

  /**
   * A command that runs until Ctrl-C (`sessions --watch`): started in its own process group, given
   * SIGINT once it printed its first line (or after 10 s), like a user pressing Ctrl-C.
   */
  function runUntilInterrupted(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn("bash", ["-c", script], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
      let stdout = "";
      let stderr = "";
      let interrupted = false;
      const interrupt = (): void => {
        if (interrupted || child.exitCode !== null) return;
        interrupted = true;
        process.kill(-child.pid!, "SIGINT");
      };
      const timer = setTimeout(interrupt, 10_000);
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes("\n")) interrupt();
      });
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? (signal === "SIGINT" ? 130 : 1), stdout, stderr });
      });
    });
  }

  /** `serve` as documented, on port 0: logs what the docs show, stops cleanly on SIGINT. */
  async function checkServe(at: string, command: Command, env: NodeJS.ProcessEnv): Promise<void> {
    const dataDir = mkdtempSync(join(tmpdir(), "sessionlens-docs-serve-"));
    mkdirSync(dataDir, { recursive: true });
    const envPrefix = command.text.slice(0, command.text.length - withoutEnv(command.text).length);
    const child = spawn("bash", ["-c", `${envPrefix}exec ${withoutEnv(command.text)} --port 0 --data-dir ${dataDir}`], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const deadline = Date.now() + 15_000;
      while (!/"msg":"[^"]*listening/.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${at}: \`${command.text}\` did not start:\n${out}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const listening = JSON.parse(out.split("\n").find((line) => line.includes("listening"))!) as { msg: string; url: string };
      const documented = command.output.map((line) => /"msg":"([^"]*)"/.exec(line)?.[1]).find(Boolean);
      if (documented) {
        expect(listening.msg, `${at}: the documented log line`).toBe(documented.split("127.0.0.1:8787").join(new URL(listening.url).host));
      }
      child.kill("SIGINT");
      expect(await exited, `${at}: exit status after SIGINT\n${out}`).toBe(0);
      expect(out, `${at}: logs "stopped" after SIGINT`).toMatch(/"msg":"stopped"/);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
});

