import { detectScope, type AgentMessage, type HelloMessage } from "@sessionlens/shared";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startAgent, type Agent, type AgentOptions, type CloseReason } from "../src/index.js";
import { WAKE_GAP_MS } from "../src/pages.js";
import { FakeEnvironment, flush } from "./testUtils/fakeEnvironment.js";
import { FakeSocket } from "./testUtils/fakeSocket.js";
import { FakeIndexedDB, FakeLocalStorage, FakeLocks, type FakeProfile } from "./testUtils/fakeStorage.js";
import { fakePage, type FakePage } from "./testUtils/fakeWindow.js";

const URL_ = "wss://collector.example.com/ws";

let agents: Agent[] = [];
let warn: ReturnType<typeof vi.spyOn>;

beforeEach(() => {
  FakeSocket.reset();
  warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
});
afterEach(() => {
  for (const agent of agents) agent.stop();
  agents = [];
  vi.restoreAllMocks();
});

interface Started {
  agent: Agent;
  env: FakeEnvironment;
  page: FakePage;
  closes: [CloseReason, string][];
}

function start(options: Partial<AgentOptions> = {}, page: FakePage = fakePage(), env = new FakeEnvironment(page.window)): Started {
  const agent = startAgent({ url: URL_, project: "MyProject", WebSocket: FakeSocket, ...options }, env);
  agents.push(agent);
  const closes: [CloseReason, string][] = [];
  agent.on("close", (reason, message) => closes.push([reason, message]));
  return { agent, env, page, closes };
}

/** Lets the agent open its socket, accepts it and welcomes it. */
async function welcomed(overrides: Parameters<FakeSocket["welcome"]>[0] = {}): Promise<FakeSocket> {
  await flush();
  const socket = FakeSocket.last;
  socket.accept();
  socket.welcome(overrides);
  await flush();
  return socket;
}

function hello(socket: FakeSocket): HelloMessage {
  const first = socket.frames[0];
  if (first?.type !== "hello") throw new Error(`first frame is ${first?.type}`);
  return first;
}

function last<T extends AgentMessage["type"]>(socket: FakeSocket, type: T): Extract<AgentMessage, { type: T }> {
  const frame = socket.frames.filter((f) => f.type === type).at(-1);
  if (!frame) throw new Error(`no ${type} frame in ${socket.types().join(",")}`);
  return frame as Extract<AgentMessage, { type: T }>;
}

describe("hello", () => {
  it("carries project, user agent, a fresh nanoid page id, the pathname only, and the counters", async () => {
    const { agent, env } = start();
    const socket = await welcomed();
    expect(hello(socket)).toEqual({
      type: "hello",
      v: 1,
      project: "MyProject",
      scope: null,
      userAgent: expect.stringContaining("Chrome/131"),
      pageId: agent.pageId,
      path: "/orders/42",
      resume: null,
      token: null,
      epoch: env.time,
      seq: 0,
      bytes: 0,
    });
    expect(agent.pageId).toMatch(/^[A-Za-z0-9_-]{21}$/);
    expect(agent.sessionId).toBe("session-1");
    expect(start().agent.pageId).not.toBe(agent.pageId);
  });

  it.each([
    ["Android WebView", "android", "Mozilla/5.0 (Linux; Android 14; Pixel 8; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0 Mobile Safari/537.36", 0, undefined],
    ["iOS WebView", "ios", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148", 5, undefined],
    ["iPad WebView in desktop mode", "ios", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)", 5, undefined],
    ["Mac WebView", "browser", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)", 0, undefined],
    ["mobile Safari", "browser", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", 5, undefined],
    ["explicit designer", "designer", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36", 0, "designer"],
    ["explicit scope wins", "browser", "Mozilla/5.0 (Linux; Android 14; wv) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36", 0, "browser"],
  ] as const)("scope of a %s: the collector ends up with %s", async (_name, expected, userAgent, maxTouchPoints, scope) => {
    start(scope ? { scope } : {}, fakePage({ userAgent, maxTouchPoints }));
    const socket = await welcomed();
    const sent = hello(socket);
    // What the collector decides from the hello.
    expect(detectScope(sent.userAgent, sent.scope)).toBe(expected);
  });

  it("cuts the user agent and path to the protocol's caps", async () => {
    const page = fakePage({ userAgent: "U".repeat(2000), href: `https://app.example.com/${"p".repeat(3000)}` });
    start({}, page);
    const sent = hello(await welcomed());
    expect(sent.userAgent).toHaveLength(512);
    expect(sent.path).toHaveLength(1024);
  });

  it("reports the app's own path when asked to", async () => {
    start({ pagePath: () => "/orders/:id" });
    expect(hello(await welcomed()).path).toBe("/orders/:id");
  });
});

describe("options", () => {
  it("refuses a missing or invalid url or project with a TypeError", () => {
    expect(() => startAgent({ url: URL_ } as AgentOptions, new FakeEnvironment())).toThrow(TypeError);
    expect(() => startAgent({ url: URL_, project: "" }, new FakeEnvironment())).toThrow(/project/);
    expect(() => startAgent({ url: URL_, project: "x".repeat(129) }, new FakeEnvironment())).toThrow(/project/);
    expect(() => startAgent({ url: "ftp://x/", project: "P", WebSocket: FakeSocket }, new FakeEnvironment())).toThrow(/url/);
    expect(() => startAgent({ url: "not a url", project: "P", WebSocket: FakeSocket }, new FakeEnvironment())).toThrow(/url/);
    expect(() => startAgent({ project: "P" } as AgentOptions, new FakeEnvironment())).toThrow(/url/);
  });

  it("takes http(s) as ws(s) and resolves a relative url against the page", async () => {
    start({ url: "/sessionlens/ws" });
    await flush();
    expect(FakeSocket.last.url).toBe("wss://app.example.com/sessionlens/ws");
    start({ url: "http://127.0.0.1:8787/ws" });
    await flush();
    expect(FakeSocket.last.url).toBe("ws://127.0.0.1:8787/ws");
  });
});

describe("counters", () => {
  it("counts the agent's own frames: each frame carries the bytes of all frames before it", async () => {
    const { env } = start();
    const socket = await welcomed({ heartbeatMs: 1000, idleTimeoutMs: 0 });
    await env.advance(3000);
    const frames = socket.frames;
    expect(frames.map((frame) => frame.type)).toEqual(["hello", "heartbeat", "heartbeat", "heartbeat"]);
    let total = 0;
    frames.forEach((frame, i) => {
      expect((frame as { bytes: number }).bytes).toBe(total);
      expect((frame as { seq: number }).seq).toBe(i);
      total += socket.frameBytes[i]!;
    });
  });

  it("reports app bytes at most once per reportIntervalMs, carrying the cumulative total", async () => {
    const { agent, env } = start({ reportIntervalMs: 1000 });
    const socket = await welcomed();
    const before = last(socket, "hello").bytes + socket.frameBytes[0]!;
    for (let i = 0; i < 10; i++) agent.countBytes(100);
    await env.advance(0);
    expect(last(socket, "report").bytes).toBe(before + 1000);
    agent.countBytes(5);
    await env.advance(999);
    expect(socket.types().filter((t) => t === "report")).toHaveLength(1);
    await env.advance(1);
    expect(socket.types().filter((t) => t === "report")).toHaveLength(2);
    expect(last(socket, "report").bytes).toBe(before + 1005 + socket.frameBytes[1]!);
  });

  it("never lets a bad countBytes argument make a counter NaN, negative or unsafe", async () => {
    const { agent, env } = start();
    const socket = await welcomed();
    for (const value of [NaN, -5, Infinity, "12" as unknown as number, 0.4, undefined as unknown as number]) agent.countBytes(value);
    agent.countBytes(1e300);
    await env.advance(2000);
    expect(last(socket, "report").bytes).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("resends the full state on every reconnect: same page, same epoch, growing seq and bytes, the stored resume", async () => {
    const { agent, env } = start();
    const first = await welcomed({ resume: "resume-A" });
    agent.countBytes(500);
    await env.advance(1000);
    const report = last(first, "report");
    first.drop(1006);
    await env.advance(1000);
    const second = await welcomed();
    const again = hello(second);
    expect(again).toMatchObject({ pageId: agent.pageId, epoch: report.epoch, resume: "resume-A", path: "/orders/42" });
    expect(again.seq).toBeGreaterThan(report.seq);
    expect(again.bytes).toBe(report.bytes + first.frameBytes.at(-1)!);
  });

  it("reports a new path after a history navigation: pathname only", async () => {
    const { env, page } = start();
    const socket = await welcomed();
    page.navigate("/orders/43?token=secret#x");
    page.fire("popstate");
    await env.advance(1000);
    expect(last(socket, "report").path).toBe("/orders/43");
  });

  it("notices a pushState navigation at the next heartbeat even without a navigation event", async () => {
    const { env, page } = start();
    const socket = await welcomed({ heartbeatMs: 5000, idleTimeoutMs: 0 });
    page.navigate("/settings");
    await env.advance(5000);
    expect(socket.types().at(-1)).toBe("report");
    expect(last(socket, "report").path).toBe("/settings");
  });

  it("counts requests the page sends to the gateway, and wraps nothing with countBytes: false", async () => {
    const { env, page } = start();
    const socket = await welcomed();
    const fetch = page.window["fetch"] as (url: string, init: RequestInit) => Promise<unknown>;
    await fetch("/api/orders", { method: "POST", body: "x".repeat(300) });
    await fetch("https://collector.example.com/x", { method: "POST", body: "y".repeat(20) });
    await env.advance(1000);
    const helloBytes = socket.frameBytes[0]!;
    expect(last(socket, "report").bytes).toBe(helloBytes + 320);

    const plain = fakePage();
    const original = plain.window["fetch"];
    start({ countBytes: false }, plain);
    expect(plain.window["fetch"]).toBe(original);
  });

  it("honours gatewayOrigins", async () => {
    const { env, page } = start({ gatewayOrigins: ["https://api.example.com"] });
    const socket = await welcomed();
    const fetch = page.window["fetch"] as (url: string, init: RequestInit) => Promise<unknown>;
    await fetch("/same-origin", { method: "POST", body: "not counted" });
    await fetch("https://api.example.com/x", { method: "POST", body: "four" });
    await env.advance(1000);
    expect(last(socket, "report").bytes).toBe(socket.frameBytes[0]! + 4);
  });
});

describe("identity", () => {
  it("sends a string token in the hello; setToken and clearToken send token frames", async () => {
    const { agent } = start({ token: "jwt-1" });
    const socket = await welcomed();
    expect(hello(socket).token).toBe("jwt-1");
    agent.setToken("jwt-2");
    agent.setToken("jwt-2"); // unchanged: nothing new to say
    agent.clearToken();
    expect(socket.frames.filter((f) => f.type === "token")).toEqual([
      { type: "token", token: "jwt-2" },
      { type: "token", token: null },
    ]);
  });

  it("waits for a token function before the hello, and calls it again when the collector says it expired", async () => {
    let issued = 0;
    const token = vi.fn(async () => `jwt-${++issued}`);
    start({ token });
    const socket = await welcomed();
    expect(hello(socket).token).toBe("jwt-1");
    socket.deliver({ type: "error", code: "token_expired", message: "the identity token has expired" });
    await flush();
    expect(token).toHaveBeenCalledTimes(2);
    expect(last(socket, "token").token).toBe("jwt-2");
  });

  it("does not hold the connection forever for a token function that never answers", async () => {
    const { env } = start({ token: () => new Promise<string>(() => undefined) });
    await flush();
    expect(FakeSocket.instances).toHaveLength(0);
    await env.advance(10_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it("survives a token function that throws", async () => {
    const { env } = start({
      token: () => {
        throw new Error("login server down");
      },
    });
    await env.advance(0);
    const socket = await welcomed();
    expect(hello(socket).token).toBeNull();
    expect(warn).toHaveBeenCalledWith("[sessionlens] token function failed", expect.any(Error));
  });

  it("ignores a token longer than the protocol allows instead of getting the page refused", async () => {
    start({ token: "x".repeat(5000) });
    expect(hello(await welcomed()).token).toBeNull();
  });
});

describe("commands and closing", () => {
  it("hands app messages to on('message') listeners; unsubscribing works; a throwing listener harms nothing", async () => {
    const { agent } = start();
    const socket = await welcomed();
    const error = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const seen: [string, unknown][] = [];
    agent.on("message", () => {
      throw new Error("app bug");
    });
    const off = agent.on("message", (type, payload) => seen.push([type, payload]));
    socket.deliver({ type: "message", messageType: "refresh", payload: { reason: "deploy" } });
    off();
    socket.deliver({ type: "message", messageType: "ignored", payload: null });
    expect(seen).toEqual([["refresh", { reason: "deploy" }]]);
    expect(error).toHaveBeenCalledTimes(2);
  });

  it.each([
    ["closeSession", "closed-session"],
    ["closePage", "closed-page"],
  ] as const)("%s ends the agent for good with %s", async (type, reason) => {
    const { env, closes } = start();
    const socket = await welcomed();
    socket.deliver({ type, message: "closed by an administrator" });
    socket.drop(type === "closeSession" ? 4000 : 4001, "closed");
    expect(closes).toEqual([[reason, "closed by an administrator"]]);
    expect(warn).toHaveBeenCalledTimes(1);
    await env.advance(300_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it.each([
    [4000, "closed-session"],
    [4001, "closed-page"],
    [4403, "rejected"],
    [4426, "rejected"],
    [4400, "rejected"],
  ] as const)("close code %i alone ends the agent with %s, with the error frame's message", async (code, reason) => {
    const { env, closes } = start();
    await flush();
    const socket = FakeSocket.last;
    socket.accept();
    socket.deliver({ type: "error", code: "project_not_allowed", message: "project MyProject is not served here" });
    socket.drop(code, "");
    expect(closes).toEqual([[reason, "project MyProject is not served here"]]);
    expect(warn).toHaveBeenCalledTimes(1);
    await env.advance(300_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it("stop() says bye, closes cleanly, undoes its wrappers and listeners, and emits 'stopped' quietly", async () => {
    const page = fakePage();
    const originalFetch = page.window["fetch"];
    const { agent, env, closes } = start({}, page);
    const socket = await welcomed();
    agent.stop();
    agent.stop();
    expect(socket.types().at(-1)).toBe("bye");
    expect(socket.closedWith).toBe(1000);
    expect(closes).toEqual([["stopped", ""]]);
    expect(warn).not.toHaveBeenCalled();
    expect(page.window["fetch"]).toBe(originalFetch);
    page.fire("pageshow", { persisted: true });
    page.fire("online");
    await env.advance(300_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });
});

describe("page lifecycle", () => {
  it("pagehide says bye and closes cleanly; a back/forward-cache return reconnects as the same page with a new counter series", async () => {
    const { agent, env, page } = start();
    const socket = await welcomed();
    agent.countBytes(42);
    page.fire("pagehide", { persisted: true });
    const bye = last(socket, "bye");
    expect(socket.closedWith).toBe(1000);
    page.fire("online");
    await env.advance(60_000);
    expect(FakeSocket.instances).toHaveLength(1);

    page.fire("pageshow", { persisted: false }); // a normal load event: not a return
    await flush();
    expect(FakeSocket.instances).toHaveLength(1);
    page.fire("pageshow", { persisted: true });
    const back = hello(await welcomed());
    expect(back).toMatchObject({ pageId: agent.pageId, resume: "resume-1" });
    expect(back.seq).toBeGreaterThan(bye.seq);
    expect(bye.bytes).toBe(socket.frameBytes[0]! + 42);
    // The bye made the old series final; the new one starts with the bye frame's own bytes, so a
    // collector that forgot the old series (a restart) cannot count it twice and nothing is lost.
    expect(back.epoch).toBeGreaterThan(bye.epoch);
    expect(back.bytes).toBe(socket.frameBytes.at(-1)!);
  });

  it("a back/forward-cache return keeps bytes that no frame carried (the socket was down at pagehide)", async () => {
    const { agent, env, page } = start({ backoffBaseMs: 60_000, backoffMaxMs: 60_000 });
    const socket = await welcomed();
    const known = hello(socket).bytes + socket.frameBytes[0]!; // the hello, counted once it was written
    socket.drop(); // the network is gone: nothing below reaches the collector
    agent.countBytes(500);
    page.fire("pagehide", { persisted: true }); // no bye can be written
    await env.advance(0);
    page.fire("pageshow", { persisted: true });
    const back = hello(await welcomed());
    expect(back.epoch).toBeGreaterThan(hello(socket).epoch);
    // The collector last heard `hello(socket).bytes` for the old series: everything after it is here.
    expect(back.bytes).toBe(known - hello(socket).bytes + 500);
  });

  it("reports pending bytes at once when the page is hidden (it may be killed without a pagehide)", async () => {
    const { agent, page, env } = start({ reportIntervalMs: 60_000 });
    const socket = await welcomed({ heartbeatMs: 120_000, idleTimeoutMs: 0 });
    agent.countBytes(10);
    await env.advance(0); // reported at once: the first report of the window
    agent.countBytes(20); // within the throttle window: would wait a minute
    await env.advance(1000);
    const reports = socket.types().filter((type) => type === "report").length;
    expect(reports).toBe(1);
    page.setVisibility("hidden");
    expect(socket.types().filter((type) => type === "report")).toHaveLength(reports + 1);
    expect(last(socket, "report").bytes).toBeGreaterThanOrEqual(30);
    page.setVisibility("hidden"); // nothing new: nothing sent
    expect(socket.types().filter((type) => type === "report")).toHaveLength(reports + 1);
  });

  it("warns once when the collector refuses the identity token", async () => {
    start({ token: "bad" });
    const socket = await welcomed();
    socket.deliver({ type: "error", code: "token_invalid", message: "signature does not verify" });
    socket.deliver({ type: "error", code: "token_invalid", message: "signature does not verify" });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith("[sessionlens] identity token refused: signature does not verify");
  });

  it("reconnects at once when the network comes back or the page becomes visible", async () => {
    const { env, page } = start();
    const socket = await welcomed();
    socket.drop(1006);
    await env.advance(0);
    for (let i = 0; i < 5; i++) {
      // Fail a few times to make the backoff long.
      await flush();
      FakeSocket.last.drop(1006);
      await env.advance(env.pending()[0]!);
    }
    const count = FakeSocket.instances.length;
    FakeSocket.last.drop(1006);
    page.fire("online");
    await flush();
    expect(FakeSocket.instances).toHaveLength(count + 1);
    FakeSocket.last.drop(1006);
    page.setVisibility("hidden");
    page.setVisibility("visible"); // within WAKE_GAP_MS of the last wake: the backoff runs its course
    await flush();
    expect(FakeSocket.instances).toHaveLength(count + 1);
    env.time += WAKE_GAP_MS; // the clock alone, without running the pending retry
    page.setVisibility("hidden");
    page.setVisibility("visible");
    await flush();
    expect(FakeSocket.instances).toHaveLength(count + 2);
  });
});

describe("tabs of one browser", () => {
  it("two agents started at the same instant in one profile end in one session", async () => {
    const profile: FakeProfile = { locks: new FakeLocks(), indexedDB: new FakeIndexedDB(), localStorage: new FakeLocalStorage() };
    start({}, fakePage({ profile }));
    start({}, fakePage({ profile }));
    await flush();
    expect(FakeSocket.instances).toHaveLength(1); // the second tab waits for the first one's welcome
    const first = FakeSocket.instances[0]!;
    first.accept();
    expect(hello(first).resume).toBeNull();
    first.welcome({ sessionId: "shared", resume: "resume-shared" });
    await flush();
    expect(FakeSocket.instances).toHaveLength(2);
    const second = FakeSocket.instances[1]!;
    second.accept();
    expect(hello(second).resume).toBe("resume-shared");
  });

  it("a page whose storage throws still connects, with an in-memory session", async () => {
    const { env } = start({}, fakePage({ profile: { locks: "throw", indexedDB: "throw", localStorage: "throw" } }));
    const socket = await welcomed({ resume: "resume-memory" });
    expect(hello(socket).resume).toBeNull();
    socket.drop(1006);
    await env.advance(1000);
    expect(hello(await welcomed()).resume).toBe("resume-memory");
  });
});

describe("outside a page (Node)", () => {
  it("runs with the WebSocket option, no storage and no page events", async () => {
    const env = new FakeEnvironment(undefined);
    const agent = startAgent({ url: "ws://127.0.0.1:8787/ws", project: "Load", WebSocket: FakeSocket, userAgent: "loadgen/1.0" }, env);
    agents.push(agent);
    const socket = await welcomed({ resume: "r-node" });
    expect(hello(socket)).toMatchObject({ path: "/", userAgent: "loadgen/1.0", scope: null });
    socket.drop(1006);
    await env.advance(1000);
    const again = await welcomed();
    expect(hello(again).resume).toBe("r-node");
  });
});
