import { afterEach, describe, expect, it } from "vitest";
import { eventually, fakeTimers } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";
import { SseReader } from "../helpers/sse.js";

describe("GET /api/v1/events", () => {
  const t = useCollector();
  const readers: SseReader[] = [];
  const open = async (path = "/api/v1/events", headers?: Record<string, string>) => {
    const reader = await SseReader.open(`${t.url}${path}`, headers);
    readers.push(reader);
    return reader;
  };
  // Runs before the collector's own clean-up (hooks run last registered, first).
  afterEach(() => {
    for (const reader of readers.splice(0)) reader.close();
  });

  it("sends a snapshot, then upsert and remove for a real session", async () => {
    await t.start({ sseCoalesceMs: 20 });
    const existing = await t.join({ project: "A" });
    const reader = await open();
    const snapshot = await reader.waitFor((event) => event.type === "snapshot");
    expect((JSON.parse(snapshot.data) as { id: string }[]).map((s) => s.id)).toEqual([existing.welcome!.sessionId]);

    const agent = await t.join({ project: "B" });
    const id = agent.welcome!.sessionId;
    const upsert = await reader.waitFor((event) => event.type === "upsert" && JSON.parse(event.data).id === id);
    expect(JSON.parse(upsert.data)).toMatchObject({ id, project: "B", activePages: 1, pageIds: [agent.pageId] });

    agent.report("/checkout", 500);
    await reader.waitFor((event) => event.type === "upsert" && JSON.parse(event.data).totalBytesSent === 500);

    await t.collector.closeSession(id);
    const remove = await reader.waitFor((event) => event.type === "remove");
    expect(JSON.parse(remove.data)).toEqual({ id, reason: "closed" });
  });

  it("coalesces a session's changes into one upsert per interval (in process, on a fake scheduler)", async () => {
    await t.start(...fakeTimers({ sseCoalesceMs: 250 }));
    const reader = await SseReader.open("http://collector.local/api/v1/events", {}, (url, init) => t.collector.request(url, init));
    readers.push(reader);
    await reader.waitFor((event) => event.type === "snapshot");
    const agent = await t.join();
    for (let i = 0; i < 3; i++) agent.heartbeat(10);
    await eventually(async () => expect((await t.collector.getSessionInfo())[0]!.totalBytesSent).toBe(30));
    // The start and three byte increases are one pending change until the interval passes.
    t.clock.advance(250);
    const upsert = await reader.waitFor((event) => event.type === "upsert");
    expect(JSON.parse(upsert.data)).toMatchObject({ id: agent.welcome!.sessionId, totalBytesSent: 30 });
  });

  it("publishes recentBytesSent falling back to 0 (but not a 0 that stays 0)", async () => {
    await t.start({ sseCoalesceMs: 20 });
    const agent = await t.join();
    const reader = await open();
    await reader.waitFor((event) => event.type === "snapshot");
    agent.heartbeat(100);
    await reader.waitFor((event) => event.type === "upsert" && JSON.parse(event.data).recentBytesSent === 100);
    agent.heartbeat(0);
    const zero = await reader.waitFor((event) => event.type === "upsert" && JSON.parse(event.data).recentBytesSent === 0);
    expect(JSON.parse(zero.data)).toMatchObject({ totalBytesSent: 100, recentBytesSent: 0 });
    const upserts = reader.events.filter((event) => event.type === "upsert").length;
    agent.heartbeat(0);
    agent.heartbeat(0);
    // A marker change after the quiet frames: once it shows, the quiet ones would have shown too.
    agent.heartbeat(7);
    await reader.waitFor((event) => event.type === "upsert" && JSON.parse(event.data).recentBytesSent === 7);
    expect(reader.events.filter((event) => event.type === "upsert").length).toBe(upserts + 1);
  });

  it("applies the query's filters, and removes a session that stops matching", async () => {
    await t.start({ sseCoalesceMs: 20 });
    const reader = await open("/api/v1/events?projectFilter=Al*");
    await reader.waitFor((event) => event.type === "snapshot");
    const other = await t.join({ project: "Beta" });
    const match = await t.join({ project: "Alpha" });
    await reader.waitFor((event) => event.type === "upsert" && JSON.parse(event.data).id === match.welcome!.sessionId);
    other.report("/x", 10);
    match.report("/y", 10);
    await reader.waitFor((event) => event.type === "upsert" && JSON.parse(event.data).totalBytesSent === 10);
    expect(reader.events.some((event) => event.data.includes(other.welcome!.sessionId))).toBe(false);
  });

  it("coalesces a burst of changes of one session into few updates", async () => {
    await t.start({ sseCoalesceMs: 200, maxMessagesPerWindow: 1_000 });
    const reader = await open();
    await reader.waitFor((event) => event.type === "snapshot");
    const agent = await t.join();
    for (let i = 0; i < 100; i++) agent.heartbeat(1);
    await reader.waitFor((event) => event.type === "upsert" && JSON.parse(event.data).totalBytesSent === 100);
    // 100 changes in well under a second: at most a handful of upserts.
    expect(reader.events.filter((event) => event.type === "upsert").length).toBeLessThan(20);
  });

  it("sends comment heartbeats and a fresh snapshot to a client that reconnects", async () => {
    await t.start({ sseHeartbeatMs: 30 });
    const agent = await t.join();
    const first = await open();
    await first.waitFor((event) => event.type === "snapshot");
    await eventually(() => expect(first.comments).toBeGreaterThan(0));
    first.close();
    const second = await open();
    const snapshot = await second.waitFor((event) => event.type === "snapshot");
    expect(JSON.parse(snapshot.data)[0].id).toBe(agent.welcome!.sessionId);
  });

  it("counts subscribers in /metrics and needs the API token when one is set", async () => {
    await t.start({ apiToken: "tok" });
    expect((await open()).status).toBe(401);
    const reader = await open("/api/v1/events", { authorization: "Bearer tok" });
    await reader.waitFor((event) => event.type === "snapshot");
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/^sessionlens_sse_subscribers 1$/m);
  });
});
