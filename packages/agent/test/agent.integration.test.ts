import type { SessionInfo } from "@sessionlens/shared";
import { afterEach, describe, expect, it, vi } from "vitest";
import { WebSocket } from "ws";
import { startAgent, type Agent, type AgentOptions, type CloseReason } from "@sessionlens/agent";
import { runCollector, tempDir, IDENTITY_SECRET, type RunningCollector } from "./testUtils/collector.js";
import { FakeEnvironment } from "./testUtils/fakeEnvironment.js";
import { signToken } from "./testUtils/jwt.js";
import { startProxy, type NetworkProxy } from "./testUtils/proxy.js";

/**
 * The agent against a real collector on port 0, over real sockets (Node, `ws`): the full flow a
 * user relies on — connect, report, reconnect, resume, close commands, login and logout.
 */

const CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups.length = 0;
  vi.restoreAllMocks();
});

async function collectorFor(options: Parameters<typeof runCollector>[0] = {}): Promise<RunningCollector> {
  const running = await runCollector({ heartbeatMs: 500, pageGraceMs: 3000, sessionTimeoutMs: 5000, ...options });
  cleanups.push(() => running.close());
  return running;
}

type TestAgent = Agent & {
  closes: [CloseReason, string][];
  /** WebSockets the agent created: one per connection attempt, counted when it is made. */
  sockets: () => number;
};

/** An agent on real sockets; with `env`, its clock and timers are fake and move only when the test advances them. */
function agentFor(url: string, options: Partial<AgentOptions> = {}, env?: FakeEnvironment): TestAgent {
  let sockets = 0;
  class CountedWebSocket extends WebSocket {
    constructor(address: string) {
      super(address);
      sockets++;
    }
  }
  const agent = startAgent(
    {
    url,
    project: "MyProject",
    WebSocket: CountedWebSocket as unknown as AgentOptions["WebSocket"],
    userAgent: CHROME,
    backoffBaseMs: 100,
    backoffMaxMs: 400,
    reportIntervalMs: 50,
    ...options,
    },
    env,
  );
  const closes: [CloseReason, string][] = [];
  agent.on("close", (reason, message) => closes.push([reason, message]));
  cleanups.push(() => agent.stop());
  return Object.assign(agent, { closes, sockets: () => sockets });
}

/**
 * After an agent ended for good: nothing of it is left to run (no retry, no heartbeat timer), and
 * ten minutes on its clock open no socket. Fails at once if a retry was scheduled.
 */
async function expectNoReconnect(agent: TestAgent, env: FakeEnvironment): Promise<void> {
  const sockets = agent.sockets();
  expect(env.pending()).toEqual([]);
  await env.advance(10 * 60_000);
  expect(agent.sockets()).toBe(sockets);
}

async function sessionOf(running: RunningCollector, agent: Agent): Promise<SessionInfo> {
  return vi.waitFor(
    async () => {
      const session = (await running.collector.getSessionInfo()).find((candidate) => candidate.id === agent.sessionId);
      if (!session) throw new Error("the agent's session is not listed");
      return session;
    },
    { timeout: 5000, interval: 20 },
  );
}

function until<T>(check: () => T | Promise<T>, timeout = 5000): Promise<T> {
  return vi.waitFor(check, { timeout, interval: 20 });
}

describe("connect and report", () => {
  it("appears in getSessionInfo with the Perspective fields, and its bytes add up", async () => {
    const running = await collectorFor();
    const agent = agentFor(running.wsUrl, { pagePath: () => "/orders" });
    const session = await sessionOf(running, agent);
    expect(session).toMatchObject({
      id: agent.sessionId,
      project: "MyProject",
      userAgent: CHROME,
      username: "Unauthenticated",
      authorized: false,
      sessionScope: "browser",
      activePages: 1,
      pageIds: [agent.pageId],
    });
    // The agent's own frames count: the hello's bytes arrive with the next frame.
    const before = session.totalBytesSent;
    agent.countBytes(10_000);
    const after = await until(async () => {
      const now = await sessionOf(running, agent);
      expect(now.totalBytesSent).toBeGreaterThanOrEqual(before + 10_000);
      return now;
    });
    expect(after.recentBytesSent).toBeGreaterThanOrEqual(10_000);
    const details = await running.collector.getSession(agent.sessionId!);
    expect(details?.pages.map((page) => page.path)).toEqual(["/orders"]);
  });

  // Agents treat a socket that received nothing for idleTimeoutMs as dead; browsers hide WebSocket
  // pings from scripts, so the collector sends quiet agents keepalive frames.
  it("keeps a quiet, healthy connection: no reconnects over several idle timeouts", async () => {
    const running = await collectorFor({ heartbeatMs: 200 }); // idle timeout 600 ms
    const agent = agentFor(running.wsUrl);
    let connects = 0;
    agent.on("connect", () => connects++);
    await sessionOf(running, agent);
    // Wait until the collector reports the page's connection older than three idle timeouts: a
    // reconnect would renew connectedAt (and count a second connect), so this is positive evidence.
    await until(async () => {
      const page = (await running.collector.getSession(agent.sessionId!))!.pages[0]!;
      expect(Date.now() - Date.parse(page.connectedAt)).toBeGreaterThan(3 * 600);
    });
    expect(connects).toBe(1);
    expect(agent.sockets()).toBe(1);
    expect(running.upgrades).toBe(1);
  });

  it("stop() says bye: the page leaves pageIds at once, without waiting for the grace period", async () => {
    const running = await collectorFor({ pageGraceMs: 60_000 });
    const agent = agentFor(running.wsUrl);
    const session = await sessionOf(running, agent);
    agent.stop();
    await until(async () => {
      const now = (await running.collector.getSessionInfo()).find((candidate) => candidate.id === session.id);
      expect(now?.pageIds ?? []).toEqual([]);
    }, 1000);
    expect(agent.closes).toEqual([["stopped", ""]]);
  });
});

describe("reconnect and resume", () => {
  let proxy: NetworkProxy;

  it("after a network cut: the same session and page, totals continue", async () => {
    const running = await collectorFor();
    proxy = await startProxy(running.port);
    cleanups.push(() => proxy.close());
    const agent = agentFor(`ws://127.0.0.1:${proxy.port}/ws`);
    const first = await sessionOf(running, agent);
    agent.countBytes(1000);
    await until(async () => expect((await sessionOf(running, agent)).totalBytesSent).toBeGreaterThan(first.totalBytesSent + 999));
    const total = (await sessionOf(running, agent)).totalBytesSent;

    proxy.cut();
    agent.countBytes(500); // while down: carried by the next hello
    await until(() => expect(proxy.connections).toBeGreaterThanOrEqual(2));
    const after = await until(async () => {
      const now = await sessionOf(running, agent);
      expect(now.totalBytesSent).toBeGreaterThanOrEqual(total + 500);
      return now;
    });
    expect(after.id).toBe(first.id);
    expect(after.pageIds).toEqual([agent.pageId]);
    expect(after.uptime).toBeGreaterThanOrEqual(first.uptime);
  });

  it("backs off while the collector is unreachable, then resumes when it is back", async () => {
    const running = await collectorFor();
    proxy = await startProxy(running.port);
    cleanups.push(() => proxy.close());
    const agent = agentFor(`ws://127.0.0.1:${proxy.port}/ws`);
    const first = await sessionOf(running, agent);
    proxy.refuse(true);
    proxy.cut();
    // It keeps trying (and backing off) while refused…
    await until(() => expect(proxy.refused).toBeGreaterThanOrEqual(2));
    proxy.refuse(false);
    await until(() => expect(proxy.connections).toBe(2));
    expect((await sessionOf(running, agent)).id).toBe(first.id);
  });

  it("treats a black-holed socket as dead and reconnects", async () => {
    const running = await collectorFor({ heartbeatMs: 200, pageGraceMs: 10_000 });
    proxy = await startProxy(running.port);
    cleanups.push(() => proxy.close());
    const agent = agentFor(`ws://127.0.0.1:${proxy.port}/ws`);
    const first = await sessionOf(running, agent);
    proxy.stall(); // the socket stays open, but nothing gets through any more
    await until(() => expect(proxy.connections).toBe(2), 5000);
    expect((await sessionOf(running, agent)).id).toBe(first.id);
  });

  it("after a collector restart on the same port and data dir: the same session id, uptime and totals continue", async () => {
    const data = tempDir();
    cleanups.push(() => data.remove());
    const firstCollector = await runCollector({ dataDir: data.path, heartbeatMs: 500 });
    const port = firstCollector.port;
    const agent = agentFor(firstCollector.wsUrl);
    const before = await sessionOf(firstCollector, agent);
    agent.countBytes(4096);
    await until(async () => expect((await sessionOf(firstCollector, agent)).totalBytesSent).toBeGreaterThan(before.totalBytesSent + 4095));
    const total = (await sessionOf(firstCollector, agent)).totalBytesSent;
    await firstCollector.close();

    const second = await collectorFor({ dataDir: data.path, port });
    const after = await sessionOf(second, agent);
    expect(after.id).toBe(before.id);
    expect(after.pageIds).toEqual([agent.pageId]);
    expect(after.totalBytesSent).toBeGreaterThanOrEqual(total);
    expect(after.uptime).toBeGreaterThanOrEqual(before.uptime);
    expect(agent.closes).toEqual([]);
  });
});

describe("commands", () => {
  it("delivers messages sent to the session", async () => {
    const running = await collectorFor();
    const agent = agentFor(running.wsUrl);
    const seen: [string, unknown][] = [];
    agent.on("message", (type, payload) => seen.push([type, payload]));
    await sessionOf(running, agent);
    expect(await running.collector.sendMessage(agent.sessionId!, "refresh", { reason: "deploy", at: [1, 2] })).toBe(true);
    await until(() => expect(seen).toEqual([["refresh", { reason: "deploy", at: [1, 2] }]]));
  });

  it("closeSession ends the agent for good with its message", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    // The agent's clock is fake (its sockets are real): a long idle timeout keeps the unticking agent connected.
    const running = await collectorFor({ heartbeatMs: 5000 });
    const env = new FakeEnvironment();
    const agent = agentFor(running.wsUrl, {}, env);
    const session = await sessionOf(running, agent);
    await running.collector.closeSession(session.id, "closed by an administrator");
    await until(() => expect(agent.closes).toEqual([["closed-session", "closed by an administrator"]]));
    await expectNoReconnect(agent, env);
    expect((await running.collector.getSessionInfo()).map((s) => s.id)).not.toContain(session.id);
  });

  it("closePage ends this page only", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const running = await collectorFor({ heartbeatMs: 5000 });
    const env = new FakeEnvironment();
    const agent = agentFor(running.wsUrl, {}, env);
    const session = await sessionOf(running, agent);
    await running.collector.closePage(session.id, agent.pageId, "this tab was closed");
    await until(() => expect(agent.closes).toEqual([["closed-page", "this tab was closed"]]));
    await expectNoReconnect(agent, env);
  });

  it("a permanent refusal (origin not allowed) stops the agent at once instead of looping", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const running = await collectorFor({ allowedOrigins: ["https://app.example.com"] });
    const env = new FakeEnvironment();
    const agent = agentFor(running.wsUrl, {}, env);
    await until(() => expect(agent.closes).toHaveLength(1));
    expect(agent.closes[0]![0]).toBe("rejected");
    expect(agent.closes[0]![1]).toMatch(/origin/);
    await expectNoReconnect(agent, env);
    expect(running.upgrades).toBe(1);
    expect(warn).toHaveBeenCalledTimes(1);
  });
});

describe("identity", () => {
  it("login, logout and login again", async () => {
    const running = await collectorFor();
    const agent = agentFor(running.wsUrl, { token: signToken(IDENTITY_SECRET, "billy", 3600) });
    await until(async () => expect(await sessionOf(running, agent)).toMatchObject({ username: "billy", authorized: true }));
    agent.clearToken();
    await until(async () => expect(await sessionOf(running, agent)).toMatchObject({ username: "Unauthenticated", authorized: false }));
    agent.setToken(signToken(IDENTITY_SECRET, "anna", 3600));
    await until(async () => expect(await sessionOf(running, agent)).toMatchObject({ username: "anna", authorized: true }));
    // Filters find it by username.
    expect((await running.collector.getSessionInfo("anna", "MyProject")).map((s) => s.id)).toEqual([agent.sessionId]);
  });

  it("a claimed username is never shown: a token signed with another secret stays Unauthenticated", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const running = await collectorFor();
    const agent = agentFor(running.wsUrl, { token: signToken("not-the-secret", "mallory", 3600) });
    const session = await sessionOf(running, agent);
    expect(session.username).toBe("Unauthenticated");
    expect(agent.closes).toEqual([]);
    await until(() => expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^\[sessionlens\] identity token refused/)));
  });

  it("a token function is called again when the token expires, and the session is authorized again", async () => {
    const running = await collectorFor();
    let calls = 0;
    // The first token expires within 1 to 2 s (exp is in whole seconds); the refreshed one lasts.
    const token = vi.fn(async () => signToken(IDENTITY_SECRET, "billy", ++calls === 1 ? 2 : 3600));
    const agent = agentFor(running.wsUrl, { token });
    await until(async () => expect(await sessionOf(running, agent)).toMatchObject({ username: "billy", authorized: true }));
    await until(() => expect(token).toHaveBeenCalledTimes(2), 5000);
    await until(async () => expect(await sessionOf(running, agent)).toMatchObject({ username: "billy", authorized: true }));
  });
});
