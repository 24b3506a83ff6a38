/**
 * The README's main command, as a new user meets it: `scripts/start.mjs` runs
 * the collector and the demo gateway, prints URLs that answer, and Ctrl-C
 * (SIGINT) stops both processes. Needs the build (pnpm build runs first in pnpm test).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..", "..");

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("pnpm start (scripts/start.mjs)", () => {
  let child: ChildProcess | undefined;
  let dataDir: string | undefined;

  afterEach(() => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("brings up the collector and the demo, prints working URLs, and stops both on Ctrl-C", async () => {
    const [collectorPort, demoPort] = [await freePort(), await freePort()];
    dataDir = mkdtempSync(join(tmpdir(), "sessionlens-start-"));
    child = spawn(process.execPath, ["scripts/start.mjs"], {
      cwd: ROOT,
      env: { ...process.env, SESSIONLENS_PORT: String(collectorPort), DEMO_PORT: String(demoPort), SESSIONLENS_DATA_DIR: dataDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));

    const deadline = Date.now() + 20_000;
    while (!output.includes("SessionLens demo is running")) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the demo did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const urls = [...output.matchAll(/http:\/\/127\.0\.0\.1:\d+\/\S*/g)].map(([url]) => url);
    expect(urls).toContain(`http://127.0.0.1:${demoPort}/`);
    expect(urls).toContain(`http://127.0.0.1:${collectorPort}/`);
    for (const url of urls) expect((await fetch(url)).status, url).toBe(200);
    // The gateway reaches the collector with the shared identity secret in place.
    const login = await fetch(`http://127.0.0.1:${demoPort}/api/login`, { method: "POST", body: JSON.stringify({ username: "billy" }) });
    expect(login.status).toBe(200);
    expect(await (await fetch(`http://127.0.0.1:${demoPort}/api/sessions`)).json()).toEqual([]);

    const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    // A clean stop looks clean: the collector finished its graceful shutdown, nothing complained.
    expect(output).toMatch(/\[collector\] \{.*"msg":"stopped"/);
    expect(output).not.toMatch(/did not stop cleanly|exited \(/);
    await expect(fetch(`http://127.0.0.1:${collectorPort}/healthz`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${demoPort}/`)).rejects.toThrow();
  });

  it("exits 0 when Ctrl-C reaches the whole process group of the package script (no ELIFECYCLE)", async () => {
    // pnpm runs the "start" script with `sh -c`; Ctrl-C signals every process of the terminal's
    // group. A shell that waits for start.mjs dies of that SIGINT itself (pnpm then reports
    // "Command failed"), so the script must `exec` it. The build step is skipped here (pnpm test built).
    const script = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start;
    expect(script).toMatch(/^pnpm build && /);
    const [collectorPort, demoPort] = [await freePort(), await freePort()];
    dataDir = mkdtempSync(join(tmpdir(), "sessionlens-start-"));
    child = spawn("sh", ["-c", script.replace(/^pnpm build && /, "true && ")], {
      cwd: ROOT,
      env: { ...process.env, SESSIONLENS_PORT: String(collectorPort), DEMO_PORT: String(demoPort), SESSIONLENS_DATA_DIR: dataDir },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 20_000;
    while (!output.includes("SessionLens demo is running")) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the demo did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child!.once("exit", (code, signal) => resolve({ code, signal })),
    );
    process.kill(-child.pid!, "SIGINT");
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(output).toMatch(/\[collector\] \{.*"msg":"stopped"/);
  });
});
