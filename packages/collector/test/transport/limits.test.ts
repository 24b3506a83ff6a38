import type { ErrorMessage } from "@sessionlens/shared";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { TestAgent, TestAgentOptions } from "../helpers/agent.js";
import { eventually, fakeTimers, pageDropped } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";

async function metricValue(t: { url: string }, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

describe("transport limits", () => {
  const t = useCollector();

  /** Opens a connection, lets `act` misbehave, and returns the error frame and the close code. */
  async function refused(act: (agent: TestAgent) => void | Promise<void>, options?: TestAgentOptions) {
    const agent = await t.connect(options);
    await act(agent);
    const closed = await agent.closed;
    return { closed, error: (agent.frames.find((frame) => frame.type === "error") as ErrorMessage | undefined) ?? null };
  }

  it.each([
    ["not msgpack", (agent: TestAgent) => agent.sendRaw(Buffer.from([0x92, 0x01])), "bad_encoding", 4400],
    ["a text frame", (agent: TestAgent) => agent.sendRaw("hello"), "bad_encoding", 4400],
    ["not a map", (agent: TestAgent) => agent.send([1, 2, 3] as unknown as Record<string, unknown>), "not_an_object", 4400],
    ["an unknown type", (agent: TestAgent) => agent.send({ type: "nope" }), "unknown_type", 4400],
    ["a wrongly typed field", (agent: TestAgent) => agent.send({ ...agent.helloMessage(), pageId: 42 }), "bad_field", 4400],
    ["another protocol version", (agent: TestAgent) => agent.send({ ...agent.helloMessage(), v: 2 }), "unsupported_version", 4426],
    ["a frame before hello", (agent: TestAgent) => agent.heartbeat(), "hello_required", 4400],
    [
      "too deep",
      (agent: TestAgent) => {
        // 8,000 nested one-element arrays: under the frame cap, deeper than any decoder's stack.
        const deep = Buffer.alloc(8_000, 0x91);
        deep[deep.length - 1] = 0x01;
        agent.sendRaw(deep);
      },
      "too_deep",
      4400,
    ],
  ] as const)("%s is refused with an error frame and a close code, and counted", async (_name, act, code, closeCode) => {
    await t.start();
    const { closed, error } = await refused(act);
    expect(error?.code).toBe(code);
    expect(closed.code).toBe(closeCode);
    expect(await metricValue(t, "sessionlens_messages_rejected_total", `reason="${code}"`)).toBe(1);
  });

  it("a duplicate hello is refused", async () => {
    await t.start();
    const agent = await t.join();
    agent.send(agent.helloMessage());
    expect((await agent.closed).code).toBe(4400);
    expect((agent.frames.find((frame) => frame.type === "error") as ErrorMessage).code).toBe("duplicate_hello");
  });

  it("a frame over 8 KiB gets an error frame too_large and close code 1009, and is counted", async () => {
    await t.start();
    const agent = await t.join();
    agent.sendRaw(Buffer.alloc(9_000, 0x90));
    expect((await agent.closed).code).toBe(1009);
    expect((agent.frames.find((frame) => frame.type === "error") as ErrorMessage | undefined)?.code).toBe("too_large");
    await eventually(async () => expect(await metricValue(t, "sessionlens_messages_rejected_total", 'reason="too_large"')).toBe(1));
  });

  it("a frame of exactly 8 KiB is not too large; one over 16 KiB is cut off by ws (1009, no error frame), still counted", async () => {
    await t.start();
    const fits = await t.join();
    // 8,192 bytes: a msgpack bin 16 header (3 bytes) and 8,189 bytes; not a valid message, but not too large.
    const exact = Buffer.alloc(8_192, 0);
    exact[0] = 0xc5;
    exact.writeUInt16BE(8_189, 1);
    fits.sendRaw(exact);
    expect((await fits.closed).code).toBe(4400);
    expect((fits.frames.find((frame) => frame.type === "error") as ErrorMessage | undefined)?.code).not.toBe("too_large");

    const huge = await t.join();
    huge.sendRaw(Buffer.alloc(17_000, 0x90));
    expect((await huge.closed).code).toBe(1009);
    await eventually(async () => expect(await metricValue(t, "sessionlens_messages_rejected_total", 'reason="too_large"')).toBe(1));
  });

  it("an agent that sends no hello within 5 s is closed with 4408", async () => {
    await t.start(...fakeTimers());
    const { closed, error } = await refused(async (agent) => {
      t.clock.advance(4_900);
      expect(agent.ws.readyState).toBe(WebSocket.OPEN);
      // The server accepted the socket before the client saw it open: its deadline is set.
      t.clock.advance(200);
    });
    expect(closed.code).toBe(4408);
    expect(error?.code).toBe("hello_timeout");
  });

  it("too many frames too fast are closed with 4429", async () => {
    await t.start({ maxMessagesPerWindow: 10 });
    const agent = await t.join();
    for (let i = 0; i < 20; i++) agent.heartbeat(1);
    expect((await agent.closed).code).toBe(4429);
    expect((agent.frames.find((frame) => frame.type === "error") as ErrorMessage).code).toBe("rate_limited");
    // The page is not gone: it may come back after backing off.
    expect((await t.collector.getSessionInfo())[0]!.activePages).toBe(1);
  });

  it("caps connections per client address with 4429", async () => {
    await t.start({ maxConnectionsPerIp: 2 });
    await t.connect();
    await t.connect();
    const { closed, error } = await refused(() => {});
    expect(closed.code).toBe(4429);
    expect(error?.code).toBe("too_many_connections");
  });

  it("limits the rate of new connections per address (token bucket) with rate_limited and 4429, counted", async () => {
    await t.start({ connectionRatePerIp: 1, connectionBurstPerIp: 3 });
    // Not a cap on open sockets: these close again, and still use up the burst.
    for (let i = 0; i < 3; i++) await (await t.join()).close();
    const { closed, error } = await refused(() => {});
    expect(closed.code).toBe(4429);
    expect(error?.code).toBe("rate_limited");
    expect(await metricValue(t, "sessionlens_messages_rejected_total", 'reason="connection_rate_limited"')).toBe(1);
    expect(await t.collector.getSessionInfo()).toHaveLength(3);
    // One second refills one token.
    t.clock.advance(1_000);
    expect((await t.join()).welcome).not.toBeNull();
    expect((await refused(() => {})).closed.code).toBe(4429);
  });

  it("with an allow-list only those origins may connect", async () => {
    await t.start({ allowedOrigins: ["https://app.example.com"] });
    const allowed = await t.join({}, { origin: "https://app.example.com" });
    expect(allowed.welcome).not.toBeNull();
    const other = await refused(() => {}, { origin: "https://evil.example.com" });
    expect(other.closed.code).toBe(4403);
    expect(other.error?.code).toBe("origin_not_allowed");
    const none = await refused(() => {});
    expect(none.closed.code).toBe(4403);
  });

  it("refuses a 101st page in one session with too_many_pages", async () => {
    await t.start({ maxConnectionsPerIp: 1_000 });
    const first = await t.join();
    for (let i = 1; i < 100; i++) await t.join({ resume: first.welcome!.resume });
    const { closed, error } = await refused((agent) => agent.send(agent.helloMessage({ resume: first.welcome!.resume })));
    expect(closed.code).toBe(4403);
    expect(error?.code).toBe("too_many_pages");
    expect((await t.collector.getSessionInfo())[0]!.activePages).toBe(100);
  });

  it("a connection that misbehaves disturbs no other session", async () => {
    await t.start();
    const good = await t.join({ bytes: 10 });
    const bad = await t.join();
    bad.sendRaw(Buffer.from([0xc1, 0xff, 0x00]));
    await bad.closed;
    good.heartbeat(5);
    await eventually(async () => {
      const session = (await t.collector.getSessionInfo()).find((candidate) => candidate.id === good.welcome!.sessionId);
      expect(session).toMatchObject({ totalBytesSent: 15, activePages: 1 });
    });
    expect(good.ws.readyState).toBe(WebSocket.OPEN);
  });

  it("terminates a socket that misses a pong; its page enters the grace period", async () => {
    await t.start(...fakeTimers({ heartbeatMs: 100 }));
    const agent = await t.join({}, { autoPong: false });
    // Round one clears the hello's "seen"; round two pings the silent socket; 1 s later it is judged.
    t.clock.advance(100);
    t.clock.advance(100);
    t.clock.advance(1_000);
    const closed = await agent.closed;
    expect(closed.code).toBe(1006);
    await pageDropped(t.collector, agent.welcome!.sessionId, agent.pageId);
    expect((await t.collector.getSessionInfo())[0]!.pageIds).toEqual([agent.pageId]);
    expect(await metricValue(t, "sessionlens_messages_rejected_total", 'reason="missed_pong"')).toBeGreaterThanOrEqual(1);
  });

  it("a quiet socket gets keepalive frames; one that is sent something does not need them", async () => {
    await t.start({ heartbeatMs: 40, keepaliveMs: 40 });
    const agent = await t.join();
    await eventually(() => expect(agent.frames.filter((frame) => frame.type === "keepalive").length).toBeGreaterThanOrEqual(2));
    expect(agent.frames.at(-1)).toEqual({ type: "keepalive" });
  });

  it("a socket that answers pings stays", async () => {
    await t.start(...fakeTimers({ heartbeatMs: 100 }));
    const agent = await t.join();
    let pings = 0;
    agent.ws.on("ping", () => pings++);
    for (let round = 1; round <= 3; round++) {
      t.clock.advance(100); // clears "seen"
      t.clock.advance(100); // pings the silent socket
      await eventually(() => expect(pings).toBe(round));
      // The client answered the ping at once; a ping of its own, answered, proves the server
      // has read that pong (one TCP stream, read in order).
      await new Promise<void>((resolve) => {
        agent.ws.once("pong", () => resolve());
        agent.ws.ping();
      });
      t.clock.advance(1_000); // judges the answer
      expect(await metricValue(t, "sessionlens_messages_rejected_total", 'reason="missed_pong"')).toBe(0);
    }
    expect(agent.ws.readyState).toBe(WebSocket.OPEN);
  });

  it("takes the client address through trusted proxies only", async () => {
    await t.start({ trustProxy: ["loopback"] });
    const proxied = await t.join({}, { headers: { "x-forwarded-for": "203.0.113.9, 198.51.100.7" } });
    const session = (await t.collector.getSessionInfo()).find((candidate) => candidate.id === proxied.welcome!.sessionId);
    // The nearest untrusted hop, never the leftmost entry.
    expect(session!.clientAddress).toBe("198.51.100.7");
    await t.close();

    await t.start();
    const direct = await t.join({}, { headers: { "x-forwarded-for": "203.0.113.9" } });
    expect((await t.collector.getSessionInfo()).find((candidate) => candidate.id === direct.welcome!.sessionId)!.clientAddress).toBe("127.0.0.1");
  });

  it("answers other paths than /ws with 404", async () => {
    await t.start();
    const ws = new WebSocket(t.wsUrl.replace("/ws", "/nope"));
    ws.on("error", () => {});
    const status = await new Promise<number>((resolve) => ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0)));
    ws.terminate();
    expect(status).toBe(404);
  });

  it("answers a plain GET /ws (no Upgrade) with 426 and the JSON error shape", async () => {
    await t.start();
    const response = await fetch(`${t.url}/ws`);
    expect(response.status).toBe(426);
    expect(response.headers.get("upgrade")).toBe("websocket");
    expect(await response.json()).toEqual({ error: { code: "upgrade_required", message: expect.any(String) } });
  });
});
