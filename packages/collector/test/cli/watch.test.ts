import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/index.js";
import { describeSession } from "../../src/cli/watch.js";
import type { CliIo } from "../../src/cli/io.js";
import { eventually } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";

/**
 * `sessionlens sessions --watch` against a real collector on port 0, read as a pipe would see it
 * (stdout is not a terminal): one line per change, Ctrl-C (SIGINT) exits 0.
 */

function capture(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const stop = new AbortController();
  const io: CliIo = { stdout: { write: (text: string) => out.push(text) }, stderr: { write: (text: string) => err.push(text) }, env, signal: stop.signal };
  return { io, stop: () => stop.abort(), out: () => out.join(""), err: () => err.join(""), lines: () => out.join("").split("\n").filter(Boolean) };
}

/** A port nothing listens on. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A line without its leading ISO time. */
const event = (line: string): string => line.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /, "");

describe("describeSession (one line per change)", () => {
  it("quotes values with spaces and shows control characters escaped, never interpreted", () => {
    const line = describeSession({
      userAgent: "x",
      id: "abc",
      username: "evil\u001b[2J name",
      authorized: true,
      project: "My Project",
      uptime: 0,
      clientAddress: "::1",
      lastComm: 0,
      sessionScope: "android",
      activePages: 2,
      recentBytesSent: 0,
      totalBytesSent: 1234,
      pageIds: ["p1", "p2"],
    });
    expect(line).toBe('abc username="evil\\\\x1b[2J name" authorized=yes project="My Project" scope=android pages=2 sentBytes=1234 address=::1');
    expect(line).not.toContain("\u001b");
  });
});

describe("sessionlens sessions --watch (stdout not a terminal)", () => {
  const t = useCollector();

  it("prints the snapshot, then one line per join, update and leave, and exits 0 when stopped", async () => {
    await t.start({ sseCoalesceMs: 20 });
    const first = await t.join({ project: "Alpha", bytes: 5 });
    const run = capture();
    const exit = main(["sessions", "--watch", "--url", t.url], run.io);
    const firstId = first.welcome!.sessionId;
    await eventually(() => expect(run.lines().map(event)).toContain("snapshot 1 session"));
    const [, session] = run.lines().map(event);
    expect(session).toMatch(new RegExp(`^session ${firstId} username=Unauthenticated authorized=no project=Alpha scope=browser pages=1 sentBytes=\\d+ address=127\\.0\\.0\\.1$`));
    for (const line of run.lines()) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S/);

    const second = await t.join({ project: "Beta", scope: "ios" });
    const secondId = second.welcome!.sessionId;
    await eventually(() => expect(run.lines().map(event)).toContainEqual(expect.stringMatching(new RegExp(`^join ${secondId} .*project=Beta scope=ios`))));
    await t.collector.closeSession(firstId);
    await eventually(() => expect(run.lines().map(event)).toContain(`leave ${firstId} reason=closed`));
    // Terminal escapes are for terminals only.
    expect(run.out()).not.toContain("\u001b");

    run.stop();
    expect(await exit).toBe(0);
    expect(run.err()).toBe("");
  });

  it("applies the filters, and --json prints one change per line", async () => {
    await t.start({ sseCoalesceMs: 20 });
    await t.join({ project: "Alpha" });
    const run = capture();
    const exit = main(["sessions", "--watch", "--json", "--project", "Be*", "--url", t.url], run.io);
    await eventually(() => expect(run.lines()).toHaveLength(1));
    expect(JSON.parse(run.lines()[0]!)).toEqual({ type: "snapshot", sessions: [] });
    const beta = await t.join({ project: "Beta" });
    await eventually(() => expect(run.lines()).toHaveLength(2));
    expect(JSON.parse(run.lines()[1]!)).toMatchObject({ type: "upsert", session: { id: beta.welcome!.sessionId, project: "Beta" } });
    run.stop();
    expect(await exit).toBe(0);
  });

  it("exits 1 with the collector's error when the token is refused", async () => {
    await t.start({ apiToken: "tok" });
    const run = capture();
    expect(await main(["sessions", "--watch", "--token", "wrong", "--url", t.url], run.io)).toBe(1);
    expect(run.err()).toMatch(/^sessionlens sessions: 401 unauthorized: .+\n$/);
    expect(run.out()).toBe("");
  });

  it("keeps retrying while the collector is unreachable, saying so on stderr", async () => {
    const port = await freePort();
    const run = capture();
    const exit = main(["sessions", "--watch", "--url", `http://127.0.0.1:${port}`], run.io);
    const expected = `sessionlens sessions: cannot reach the collector at http://127.0.0.1:${port}: ECONNREFUSED\nsessionlens sessions: reconnecting in `;
    await eventually(() => expect(run.err().split(expected).length).toBeGreaterThanOrEqual(3));
    run.stop();
    expect(await exit).toBe(0);
    expect(run.out()).toBe("");
  });

  it("on a terminal, redraws the table in place instead of printing lines", async () => {
    await t.start({ sseCoalesceMs: 20 });
    const agent = await t.join({ project: "Alpha" });
    const run = capture();
    (run.io.stdout as { isTTY?: boolean }).isTTY = true;
    const exit = main(["sessions", "--watch", "--url", t.url], run.io);
    const frames = () => run.out().split("\u001b[H\u001b[2J").slice(1);
    await eventually(() => expect(frames().at(-1)).toContain(agent.welcome!.sessionId));
    const frame = frames().at(-1)!;
    expect(frame).toMatch(/^sessionlens sessions --watch · http:\/\/127\.0\.0\.1:\d+ · live · /);
    expect(frame).toMatch(/\nID\s+USERNAME\s+AUTH\s+PROJECT/);
    expect(frame).toContain("1 session (1 browser), 1 page");
    run.stop();
    expect(await exit).toBe(0);
  });

  it("as a process: Ctrl-C (SIGINT) exits 0 after printing the live list", async () => {
    const bin = fileURLToPath(new URL("../../bin/sessionlens.js", import.meta.url));
    const built = fileURLToPath(new URL("../../dist/cli/watch.js", import.meta.url));
    // The bin runs the built CLI: `pnpm test` builds first; a targeted run needs `pnpm build`.
    expect(existsSync(built), "packages/collector/dist is not built (run pnpm build)").toBe(true);
    await t.start({ sseCoalesceMs: 20 });
    const agent = await t.join();
    const child = spawn(process.execPath, [bin, "sessions", "--watch", "--url", t.url], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await eventually(() => expect(out).toContain(`session ${agent.welcome!.sessionId} `), { timeoutMs: 10_000 });
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(err).toBe("");
    } finally {
      child.kill("SIGKILL");
    }
  });
});
