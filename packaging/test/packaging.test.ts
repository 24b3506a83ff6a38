/**
 * The three packages as a user gets them: packed with `pnpm pack`, installed with npm into an empty
 * project outside the workspace (third-party dependencies from the registry), then used the way the
 * READMEs say: a Vite app bundling the agent, the IIFE subpath, `npx sessionlens serve`, and a
 * TypeScript consumer. One install in beforeAll; every assertion reuses it.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { runInNewContext } from "node:vm";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PUBLISHED, readPackage, ROOT } from "./packages.js";

const run = promisify(execFile);
const INSTALL_TIMEOUT_MS = 8 * 60_000;

/** The test command builds first; a missing dist would pack an empty package. */
function assertBuilt(): void {
  for (const file of [
    "packages/shared/dist/index.js",
    "packages/agent/dist/index.js",
    "packages/agent/dist/sessionlens-agent.iife.js",
    "packages/collector/dist/index.js",
    "packages/collector/status-page/dist/index.html",
  ]) {
    if (!existsSync(join(ROOT, file))) throw new Error(`${file} is missing: run \`pnpm build\` before this test`);
  }
}

/** `pnpm` when on the PATH (CI installs it), else through npx. */
async function pnpmCommand(): Promise<[string, string[]]> {
  try {
    await run("pnpm", ["--version"]);
    return ["pnpm", []];
  } catch {
    return ["npx", ["-y", "pnpm@10"]];
  }
}

let work: string;
let app: string;
const tarballs = new Map<string, string>();
const rootPackage = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> };

beforeAll(async () => {
  assertBuilt();
  work = await mkdtemp(join(tmpdir(), "sessionlens-packaging-"));
  app = join(work, "app");
  const packs = join(work, "tarballs");
  await mkdir(packs, { recursive: true });
  await mkdir(join(app, "src"), { recursive: true });
  const [pnpm, pnpmArgs] = await pnpmCommand();
  for (const folder of PUBLISHED) {
    await run(pnpm, [...pnpmArgs, "pack", "--pack-destination", packs], { cwd: join(ROOT, folder) });
  }
  for (const file of await readdir(packs)) {
    const name = PUBLISHED.map((folder) => readPackage(folder).name).find((candidate) => file.startsWith(candidate.slice(1).replace("/", "-") + "-"));
    if (name !== undefined) tarballs.set(name, join(packs, file));
  }
  expect([...tarballs.keys()].sort()).toEqual(["@sessionlens/agent", "@sessionlens/collector", "@sessionlens/shared"]);

  const fileSpec = (name: string) => `file:${tarballs.get(name)!}`;
  await writeFile(
    join(app, "package.json"),
    JSON.stringify(
      {
        name: "sessionlens-consumer",
        private: true,
        type: "module",
        dependencies: {
          "@sessionlens/agent": fileSpec("@sessionlens/agent"),
          "@sessionlens/collector": fileSpec("@sessionlens/collector"),
        },
        devDependencies: {
          vite: rootPackage.devDependencies["vite"],
          typescript: rootPackage.devDependencies["typescript"],
          "@types/node": rootPackage.devDependencies["@types/node"],
        },
        // The packed agent and collector ask for @sessionlens/shared by version: give them this one.
        overrides: { "@sessionlens/shared": fileSpec("@sessionlens/shared") },
      },
      null,
      2,
    ),
  );
  await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: app, timeout: INSTALL_TIMEOUT_MS });
}, INSTALL_TIMEOUT_MS + 60_000);

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe("the packed tarballs", () => {
  it("hold dist, README, LICENSE and package.json, no tests, and no workspace: ranges", async () => {
    for (const [name, tarball] of tarballs) {
      const { stdout } = await run("tar", ["-tzf", tarball]);
      const files = stdout.trim().split("\n");
      expect(files, name).toEqual(expect.arrayContaining(["package/package.json", "package/README.md", "package/LICENSE", "package/dist/index.js", "package/dist/index.d.ts"]));
      expect(files.filter((file) => /(^|\/)(test|tests|__tests__)\/|\.test\.[cm]?[jt]s$|tsbuildinfo$/.test(file)), name).toEqual([]);
      const { stdout: manifest } = await run("tar", ["-xzOf", tarball, "package/package.json"]);
      expect(manifest, name).not.toContain("workspace:");
    }
    const collector = (await run("tar", ["-tzf", tarballs.get("@sessionlens/collector")!])).stdout;
    expect(collector).toContain("package/openapi.json");
    expect(collector).toContain("package/bin/sessionlens.js");
    expect(collector).toContain("package/status-page/dist/index.html");
    expect((await run("tar", ["-tzf", tarballs.get("@sessionlens/agent")!])).stdout).toContain("package/dist/sessionlens-agent.iife.js");
  });

  it("install with npm: @sessionlens/shared comes from its tarball, third-party packages from the registry", async () => {
    const installed = JSON.parse(await readFile(join(app, "node_modules/@sessionlens/shared/package.json"), "utf8")) as { version: string };
    expect(installed.version).toBe(readPackage("packages/shared").version);
    for (const dependency of ["msgpackr", "nanoid", "ws", "pino", "ua-parser-js"]) {
      expect(existsSync(join(app, "node_modules", dependency, "package.json")), dependency).toBe(true);
    }
  });
});

describe("a user's project", () => {
  it("a Vite app importing @sessionlens/agent builds, and its bundle holds no Node-only code", async () => {
    await writeFile(
      join(app, "index.html"),
      '<!doctype html><html><head><meta charset="utf-8"><title>app</title></head><body><script type="module" src="/src/main.js"></script></body></html>\n',
    );
    await writeFile(
      join(app, "src/main.js"),
      'import { startAgent } from "@sessionlens/agent";\n' +
        'const agent = startAgent({ url: "/sessionlens/ws", project: "MyProject" });\n' +
        'agent.on("message", (type, payload) => console.log(type, payload));\n',
    );
    const { stdout, stderr } = await run(process.execPath, [join(app, "node_modules/vite/bin/vite.js"), "build", "--logLevel", "warn"], {
      cwd: app,
      timeout: 120_000,
    });
    expect(`${stdout}${stderr}`).not.toMatch(/externalized for browser compatibility|Module "node:|has been externalized/);
    const assets = (await readdir(join(app, "dist/assets"))).filter((file) => file.endsWith(".js"));
    expect(assets).toHaveLength(1);
    const bundle = await readFile(join(app, "dist/assets", assets[0]!), "utf8");
    // The agent is in it (its protocol's hello frame) ...
    expect(bundle).toContain("hello");
    // ... and nothing meant for Node: no builtins, no require, no ws/msgpackr-extract, no Buffer.
    expect(bundle).not.toMatch(/__vite-browser-external|["'`]node:|\brequire\(|msgpackr-extract|\bBuffer\.|from ?["']ws["']/);
    // Within the agent's budget (16 KB min+gzip), app code included.
    expect(gzipSync(bundle).length).toBeLessThan(16 * 1024);
  }, 120_000);

  it("every entry point imports in Node from the installed packages", async () => {
    const script = [
      'const entries = ["@sessionlens/shared", "@sessionlens/shared/codec", "@sessionlens/shared/client", "@sessionlens/agent", "@sessionlens/collector", "@sessionlens/collector/client"];',
      "const out = {};",
      "for (const entry of entries) out[entry] = Object.keys(await import(entry)).sort();",
      'out.version = (await import("@sessionlens/collector/package.json", { with: { type: "json" } })).default.version;',
      "console.log(JSON.stringify(out));",
    ].join("\n");
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: app });
    const exported = JSON.parse(stdout) as Record<string, string[] | string>;
    expect(exported["@sessionlens/agent"]).toContain("startAgent");
    expect(exported["@sessionlens/collector"]).toEqual(expect.arrayContaining(["createCollector", "createClient", "STATUS_PAGE_CSP"]));
    expect(exported["@sessionlens/collector/client"]).toContain("createClient");
    expect(exported["@sessionlens/shared/codec"]).toContain("encodeMessage");
    expect(exported["@sessionlens/shared"]).toContain("detectScope");
    expect(exported["version"]).toBe(readPackage("packages/collector").version);
  });

  it("@sessionlens/agent/iife resolves to the IIFE, which defines window.SessionLens.startAgent", async () => {
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", 'console.log(import.meta.resolve("@sessionlens/agent/iife"))'], { cwd: app });
    const resolved = new URL(stdout.trim());
    expect(resolved.pathname).toBe(join(app, "node_modules/@sessionlens/agent/dist/sessionlens-agent.iife.js"));
    const sandbox: Record<string, unknown> = { TextEncoder, TextDecoder };
    sandbox["window"] = sandbox;
    runInNewContext(await readFile(resolved, "utf8"), sandbox);
    expect(typeof (sandbox["SessionLens"] as { startAgent?: unknown }).startAgent).toBe("function");
  });

  it("the installed `sessionlens serve --port 0` answers /healthz, serves the status page, and stops cleanly", async () => {
    // What `npx sessionlens` runs; spawned directly so SIGTERM reaches the collector itself.
    const bin = join(app, "node_modules/.bin/sessionlens");
    const child = spawn(bin, ["serve", "--port", "0", "--data-dir", join(work, "data"), "--log-level", "info"], {
      cwd: app,
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const url = await listeningUrl(child);
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: "ok" });
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
      const html = await page.text();
      const script = /<script[^>]+src="([^"]+\.js)"/.exec(html)?.[1];
      expect(script, "the built status page, not the 'not built' notice").toBeDefined();
      const asset = await fetch(new URL(script!, `${url}/`));
      expect(asset.status).toBe(200);
      expect(asset.headers.get("content-type")).toMatch(/javascript/);
      const openapi = await fetch(`${url}/api/v1/openapi.json`);
      expect(((await openapi.json()) as { openapi: string }).openapi).toBe("3.1.0");
    } finally {
      child.kill("SIGTERM");
    }
    const code = await new Promise<number | null>((resolve) => child.once("exit", (exitCode) => resolve(exitCode)));
    expect(code).toBe(0);
  }, 60_000);

  it("tsc --noEmit passes on a consumer using the agent, collector and client types", async () => {
    await writeFile(
      join(app, "consumer.ts"),
      [
        'import { startAgent, type Agent, type AgentOptions, type CloseReason } from "@sessionlens/agent";',
        'import { createCollector, type Collector, type CollectorOptions, type SessionDetails } from "@sessionlens/collector";',
        'import { createClient, SessionLensHttpError, type SessionLensClient } from "@sessionlens/collector/client";',
        'import type { SessionInfo } from "@sessionlens/shared";',
        "",
        'const options: AgentOptions = { url: "ws://127.0.0.1:8787/ws", project: "MyProject", scope: "browser" };',
        "const agent: Agent = startAgent(options);",
        'agent.on("close", (reason: CloseReason, message?: string) => console.log(reason, message));',
        "agent.countBytes(10);",
        "",
        'const collectorOptions: CollectorOptions = { port: 0, dataDir: null, apiToken: "t" };',
        "const collector: Collector = createCollector(collectorOptions);",
        "export async function main(): Promise<number> {",
        "  const address = await collector.listen();",
        '  const list: SessionInfo[] = await collector.getSessionInfo("billy", "MyProject");',
        "  const details: SessionDetails | undefined = await collector.getSession(list[0]?.id ?? \"\");",
        '  const client: SessionLensClient = createClient({ url: address.url, token: "t" });',
        "  const remote: SessionInfo[] = await client.getSessionInfo({ projectFilter: \"My*\" });",
        "  try {",
        '    await client.closeSession("nope");',
        "  } catch (error) {",
        "    if (error instanceof SessionLensHttpError) return -1;",
        "  }",
        "  await collector.close();",
        "  return list.length + remote.length + (details?.pages.length ?? 0);",
        "}",
        "",
        "// @ts-expect-error: project is required",
        'startAgent({ url: "ws://x" });',
        "",
      ].join("\n"),
    );
    // NodeNext also checks the packages' own .d.ts files (skipLibCheck off); Bundler checks resolution.
    for (const [moduleKind, resolution, skipLibCheck] of [
      ["NodeNext", "NodeNext", false],
      ["ESNext", "Bundler", true],
    ] as const) {
      await writeFile(
        join(app, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            target: "ES2022",
            module: moduleKind,
            moduleResolution: resolution,
            lib: ["ES2022", "DOM"],
            types: ["node"],
            strict: true,
            noEmit: true,
            skipLibCheck,
          },
          files: ["consumer.ts"],
        }),
      );
      const result = await run(process.execPath, [join(app, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", "tsconfig.json"], { cwd: app }).catch(
        (error: { stdout: string; stderr: string }) => error,
      );
      expect(`${result.stdout}${result.stderr}`, `${moduleKind}/${resolution}`).toBe("");
    }
  }, 180_000);
});

/** The `url` of the collector's "listening" log line (JSON lines on stdout). */
function listeningUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`no "listening" line within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`sessionlens serve exited with ${code}:\n${output}`));
    });
  });
}
