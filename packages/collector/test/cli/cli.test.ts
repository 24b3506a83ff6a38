import { request as httpRequest } from "node:http";
import { writeFile } from "node:fs/promises";
import { join as joinPath } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/index.js";
import type { CliIo } from "../../src/cli/io.js";
import { TestAgent } from "../helpers/agent.js";
import { eventually, startCollector, tempDir } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";

function capture(env: NodeJS.ProcessEnv = {}, signal?: AbortSignal) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: { write: (text: string) => out.push(text) }, stderr: { write: (text: string) => err.push(text) }, env, signal };
  return { io, out: () => out.join(""), err: () => err.join("") };
}

describe("sessionlens sessions / close", () => {
  const t = useCollector();

  it("--json prints exactly the HTTP array", async () => {
    await t.start();
    await t.join({ bytes: 5 });
    const run = capture();
    expect(await main(["sessions", "--json", "--url", t.url], run.io)).toBe(0);
    const http = await (await fetch(`${t.url}/api/v1/sessions`)).json();
    expect(JSON.parse(run.out())).toEqual(http);
    expect(run.err()).toBe("");
  });

  it("prints a table with totals, and filters", async () => {
    await t.start();
    await t.join({ project: "Alpha" });
    await t.join({ project: "Beta", scope: "ios" });
    t.clock.advance(65_000);
    const all = capture();
    expect(await main(["sessions", "--url", t.url], all.io)).toBe(0);
    const lines = all.out().split("\n");
    expect(lines[0]).toMatch(/^ID\s+USERNAME\s+AUTH\s+PROJECT\s+SCOPE\s+PAGES\s+UPTIME\s+LAST COMM\s+ADDRESS\s+SENT$/);
    expect(all.out()).toContain("Unauthenticated");
    expect(all.out()).toContain("1m 05s");
    expect(all.out()).toContain("2 sessions (1 browser, 1 ios), 2 pages");
    const filtered = capture();
    expect(await main(["sessions", "--project", "Al*", "--url", t.url], filtered.io)).toBe(0);
    expect(filtered.out()).toContain("Alpha");
    expect(filtered.out()).not.toContain("Beta");
    const none = capture();
    expect(await main(["sessions", "--username", "nobody", "--url", t.url], none.io)).toBe(0);
    expect(none.out()).toBe("No sessions.\n");
  });

  it("reads flags from SESSIONLENS_* environment variables and sends the token", async () => {
    await t.start({ apiToken: "tok" });
    const denied = capture({ SESSIONLENS_URL: t.url });
    expect(await main(["sessions"], denied.io)).toBe(1);
    expect(denied.err()).toContain("401");
    const allowed = capture({ SESSIONLENS_URL: t.url, SESSIONLENS_TOKEN: "tok", SESSIONLENS_JSON: "true" });
    expect(await main(["sessions"], allowed.io)).toBe(0);
    expect(allowed.out()).toBe("[]\n");
    const apiTokenFallback = capture({ SESSIONLENS_URL: t.url, SESSIONLENS_API_TOKEN: "tok" });
    expect(await main(["sessions", "--json"], apiTokenFallback.io)).toBe(0);
  });

  it("close closes a session (exit 0) and reports an unknown one (exit 1)", async () => {
    await t.start();
    const agent = await t.join();
    const run = capture();
    expect(await main(["close", agent.welcome!.sessionId, "--message", "bye", "--url", t.url], run.io)).toBe(0);
    expect(run.out()).toContain(`closed session ${agent.welcome!.sessionId}`);
    expect((await agent.closed).code).toBe(4000);
    expect(agent.frames.find((frame) => frame.type === "closeSession")).toEqual({ type: "closeSession", message: "bye" });
    const again = capture();
    expect(await main(["close", agent.welcome!.sessionId, "--url", t.url], again.io)).toBe(1);
    expect(again.err()).toContain("no session");
  });

  it("close takes a session id that starts with - (nanoid's alphabet has it) as the id, not a flag", async () => {
    await t.start();
    const unknownId = "-3dqnA-Wvn-7x6Qtu7gOE";
    for (const argv of [
      ["close", unknownId, "--url", t.url],
      ["close", "--url", t.url, unknownId, "--message", "-not-a-flag-either"],
      ["close", "--url", t.url, "--", unknownId],
    ]) {
      const run = capture();
      expect(await main(argv, run.io), run.err()).toBe(1);
      expect(run.err()).toContain(`no session ${unknownId}`);
    }
    const usage = capture();
    expect(await main(["close", "-x"], usage.io)).toBe(2);
  });

  it("exits 1 when the collector cannot be reached", async () => {
    const run = capture();
    expect(await main(["sessions", "--url", "http://127.0.0.1:1"], run.io)).toBe(1);
    expect(run.err()).toMatch(/cannot reach the collector/);
  });
});

describe("sessionlens usage", () => {
  it.each([
    [[], "a command is required"],
    [["nope"], "unknown command"],
    [["sessions", "--bogus"], "Unknown option"],
    [["close"], "the session id is required"],
    [["close", "a", "b"], "unexpected argument"],
    [["serve", "--store", "redis"], "--store redis needs --redis-url"],
    [["serve", "--store", "redis", "--redis-url", "http://x"], "--redis-url must be"],
    [["serve", "--redis-url", "redis://127.0.0.1:6379"], "--redis-url needs --store redis"],
    [["serve", "--store", "disk"], "--store must be memory or redis"],
    [["serve", "--session-timeout", "soon"], "--session-timeout"],
    [["serve", "--port", "http"], "--port"],
    [["serve", "--max-connections", "lots"], "--max-connections must be a positive whole number"],
  ])("%j exits 2 with a message on stderr", async (argv, message) => {
    const run = capture();
    expect(await main(argv, run.io)).toBe(2);
    expect(run.err()).toContain(message);
    expect(run.out()).toBe("");
  });

  it("a bad duration in the environment is a usage error too", async () => {
    const run = capture({ SESSIONLENS_PAGE_GRACE: "-1" });
    expect(await main(["serve"], run.io)).toBe(2);
    expect(run.err()).toContain("--page-grace");
  });

  it("SESSIONLENS_ALLOWED_HOSTS and SESSIONLENS_MAX_CONNECTIONS reach the collector", async () => {
    const dir = await tempDir();
    const stop = new AbortController();
    const run = capture(
      { SESSIONLENS_PORT: "0", SESSIONLENS_DATA_DIR: dir.path, SESSIONLENS_ALLOWED_HOSTS: "sessions.example.com", SESSIONLENS_MAX_CONNECTIONS: "77" },
      stop.signal,
    );
    const exit = main(["serve"], run.io);
    const { url } = await eventually(() => {
      const line = run.out().split("\n").find((candidate) => candidate.includes("listening on"));
      expect(line).toBeDefined();
      return JSON.parse(line!) as { url: string };
    });
    const status = (host: string) =>
      new Promise<number>((resolveStatus, reject) => {
        const req = httpRequest(`${url}/healthz`, { headers: { host } }, (res) => {
          res.resume();
          resolveStatus(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
    expect(await status(new URL(url).host)).toBe(403);
    expect(await status("sessions.example.com")).toBe(200);
    stop.abort();
    expect(await exit).toBe(0);
    await dir.remove();
  });

  it("--help lists every flag with its environment variable", async () => {
    const run = capture();
    expect(await main(["serve", "--help"], run.io)).toBe(0);
    for (const flag of ["host", "port", "store", "redis-url", "redis-prefix", "redis-cluster", "node-id", "identity-secret", "api-token", "allowed-origins", "allowed-hosts", "trust-proxy", "max-connections", "session-timeout", "page-grace", "secret", "data-dir"]) {
      expect(run.out()).toContain(`--${flag}`);
      expect(run.out()).toContain(`SESSIONLENS_${flag.replace(/-/g, "_").toUpperCase()}`);
    }
  });
});

describe("sessionlens serve", () => {
  it("starts with defaults from the environment, logs JSON lines with where it listens, and stops gracefully", async () => {
    const dir = await tempDir();
    const stop = new AbortController();
    const run = capture({ SESSIONLENS_PORT: "0", SESSIONLENS_DATA_DIR: dir.path, SESSIONLENS_API_TOKEN: "never-logged" }, stop.signal);
    const exit = main(["serve"], run.io);
    const listening = await eventually(() => {
      const line = run.out().split("\n").find((candidate) => candidate.includes("listening on"));
      expect(line).toBeDefined();
      return JSON.parse(line!) as { url: string; msg: string };
    });
    expect(listening.msg).toMatch(/^SessionLens collector listening on http:\/\/127\.0\.0\.1:\d+/);
    const agent = await TestAgent.join(listening.url.replace("http", "ws") + "/ws", { bytes: 42 });
    const list = capture({ SESSIONLENS_API_TOKEN: "never-logged" });
    expect(await main(["sessions", "--json", "--url", listening.url], list.io)).toBe(0);
    const [session] = JSON.parse(list.out()) as { id: string; totalBytesSent: number; pageIds: string[] }[];
    expect(session).toMatchObject({ id: agent.welcome!.sessionId, totalBytesSent: 42, pageIds: [agent.pageId] });
    stop.abort();
    expect(await exit).toBe(0);
    expect((await agent.closed).code).toBe(1012);
    for (const line of run.out().trim().split("\n")) expect(() => JSON.parse(line)).not.toThrow();
    expect(run.out()).not.toContain("never-logged");
    await dir.remove();
  });

  it("logs info on stdout and warnings and errors on stderr, each line once", async () => {
    const dir = await tempDir();
    // An unreadable snapshot: the collector logs an error, keeps the file aside and starts empty.
    await writeFile(joinPath(dir.path, "sessions.json"), "{ not json");
    const stop = new AbortController();
    const run = capture({ SESSIONLENS_PORT: "0", SESSIONLENS_DATA_DIR: dir.path }, stop.signal);
    const exit = main(["serve"], run.io);
    await eventually(() => expect(run.out()).toContain("listening on"));
    stop.abort();
    expect(await exit).toBe(0);
    const levels = (text: string) => text.trim().split("\n").filter(Boolean).map((line) => (JSON.parse(line) as { level: number }).level);
    expect(levels(run.out()).length).toBeGreaterThan(0);
    expect(levels(run.out()).every((level) => level < 40)).toBe(true);
    expect(levels(run.err())).toContain(50);
    expect(levels(run.err()).every((level) => level >= 40)).toBe(true);
    expect(run.err()).toContain("snapshot is unreadable");
    await dir.remove();
  });

  it("exits 1 when the port is taken", async () => {
    const t = await startCollector();
    const dir = await tempDir();
    const run = capture({ SESSIONLENS_DATA_DIR: dir.path });
    expect(await main(["serve", "--port", new URL(t.url).port, "--log-level", "silent"], run.io)).toBe(1);
    expect(run.err()).toContain("already in use");
    await t.close();
    await dir.remove();
  });
});
