import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import type { SessionInfo } from "@sessionlens/shared";
import { systemClock } from "../../src/options.js";
import { redisAvailable, redisServerAvailable, startPrivateRedis, TEST_REDIS_URL, uniquePrefix, type PrivateRedis } from "../../../../testing/redis.js";
import { TestAgent } from "../helpers/agent.js";
import { eventually, startCollector, type TestCollector } from "../helpers/collector.js";
import { deleteKeys } from "../helpers/redis.js";
import { SseReader } from "../helpers/sse.js";

const SECRET = "cluster-test-secret-0123456789abcdef";
const byId = (list: SessionInfo[], id: string): SessionInfo | undefined => list.find((session) => session.id === id);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function node(url: string, prefix: string, nodeId: string, pageGraceMs = 15_000): Promise<TestCollector> {
  const collector = await startCollector({
    secret: SECRET,
    clock: systemClock,
    pageGraceMs,
    redis: { url, prefix, nodeId, flushIntervalMs: 50, leaseTtlMs: 1_000, commandTimeoutMs: 500 },
  });
  cleanups.push(() => collector.close());
  return collector;
}

async function agent(wsUrl: string, hello: Parameters<typeof TestAgent.join>[1] = {}): Promise<TestAgent> {
  const joined = await TestAgent.join(wsUrl, hello);
  cleanups.push(() => joined.close());
  return joined;
}

describe.runIf(redisServerAvailable())("Redis stopped and restarted under two collectors", () => {
  it("readiness turns 503, agents stay connected, answers are marked partial; when Redis returns the cluster view converges", async () => {
    const redis: PrivateRedis = await startPrivateRedis();
    cleanups.push(() => redis.close());
    const prefix = uniquePrefix("faults");
    const a = await node(redis.url, prefix, "node-a");
    const b = await node(redis.url, prefix, "node-b");
    const onA = await agent(a.wsUrl, { project: "Alpha", bytes: 10 });
    const onB = await agent(b.wsUrl, { project: "Beta", bytes: 20 });
    const ids = [onA.welcome!.sessionId, onB.welcome!.sessionId].sort();
    for (const n of [a, b]) {
      await eventually(async () => expect((await n.collector.getSessionInfo()).map((s) => s.id).sort()).toEqual(ids));
    }

    const stream = await SseReader.open(`${a.url}/api/v1/events`);
    cleanups.push(async () => stream.close());
    await stream.waitFor((event) => event.type === "snapshot");

    await redis.stop();
    await stream.waitFor((event) => event.type === "partial" && event.data === '{"partial":true}', 10_000);
    for (const n of [a, b]) {
      await eventually(async () => expect((await fetch(`${n.url}/readyz`)).status).toBe(503), { timeoutMs: 10_000 });
      const response = await fetch(`${n.url}/api/v1/sessions`);
      expect(response.status).toBe(200);
      expect(response.headers.get("sessionlens-partial")).toBe("true");
    }
    // This node's own sessions stay current while Redis is away.
    onA.heartbeat(5);
    await eventually(async () => expect(byId(await a.collector.getSessionInfo(), onA.welcome!.sessionId)?.totalBytesSent).toBe(15));
    expect(onA.ws.readyState).toBe(onA.ws.OPEN);
    expect(onB.ws.readyState).toBe(onB.ws.OPEN);

    // Redis comes back empty (nothing was saved): each node writes again what it holds (the issue
    // asks for 5 s; timings are not asserted on this shared machine, the wait is bounded at 10 s).
    await redis.start();
    for (const n of [a, b]) {
      await eventually(async () => {
        const response = await fetch(`${n.url}/api/v1/sessions`);
        expect(response.headers.get("sessionlens-partial")).toBeNull();
        const list = (await response.json()) as SessionInfo[];
        expect(list.map((s) => s.id).sort()).toEqual(ids);
        expect(byId(list, onA.welcome!.sessionId)?.totalBytesSent).toBe(15);
      }, { timeoutMs: 10_000 });
      expect((await fetch(`${n.url}/readyz`)).status).toBe(200);
    }
    await stream.waitFor((event) => event.type === "partial" && event.data === '{"partial":false}', 10_000);
    // Commands cross nodes again.
    const told = onB.next("message");
    expect(await a.collector.sendMessage(onB.welcome!.sessionId, "ping", 1)).toBe(true);
    expect(await told).toMatchObject({ messageType: "ping", payload: 1 });
  }, 45_000);
});

const DIST = fileURLToPath(new URL("../../dist/index.js", import.meta.url));

/** A collector in its own process (built package), so it can be SIGKILLed. */
async function childNode(url: string, prefix: string, nodeId: string, pageGraceMs: number): Promise<{ wsUrl: string; child: ChildProcess }> {
  const script = `
    import { createCollector } from ${JSON.stringify(DIST)};
    const collector = createCollector({ port: 0, dataDir: null, secret: ${JSON.stringify(SECRET)}, pageGraceMs: ${pageGraceMs},
      redis: { url: ${JSON.stringify(url)}, prefix: ${JSON.stringify(prefix)}, nodeId: ${JSON.stringify(nodeId)}, flushIntervalMs: 50, leaseTtlMs: 1000 } });
    const address = await collector.listen();
    process.stdout.write(JSON.stringify(address) + "\\n");
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("\n")) resolve(out.split("\n")[0]!);
    });
    child.once("exit", (code) => reject(new Error(`the child collector exited (${code})`)));
  });
  return { wsUrl: (JSON.parse(line) as { wsUrl: string }).wsUrl, child };
}

const sharedRedis = await redisAvailable();
if (!existsSync(DIST)) console.warn(`[skip] SIGKILL test: build the collector first (${DIST} is missing)`);
describe.runIf(sharedRedis && existsSync(DIST))("a collector killed with SIGKILL", () => {
  it("its pages are aged out within the page grace plus one lease TTL, and its agents resume on the other node with nothing counted twice", async () => {
    const prefix = uniquePrefix("kill");
    cleanups.push(() => deleteKeys(TEST_REDIS_URL, prefix));
    const pageGraceMs = 2_000;
    const survivor = await node(TEST_REDIS_URL, prefix, "node-live", pageGraceMs);
    const doomed = await childNode(TEST_REDIS_URL, prefix, "node-doomed", pageGraceMs);
    const moving = await agent(doomed.wsUrl, { bytes: 100 });
    const lost = await agent(doomed.wsUrl, { bytes: 7 });
    moving.heartbeat(50);
    const id = moving.welcome!.sessionId;
    const lostId = lost.welcome!.sessionId;
    let createdUptime = 0;
    await eventually(async () => {
      const session = byId(await survivor.collector.getSessionInfo(), id);
      expect(session).toMatchObject({ totalBytesSent: 150, activePages: 1 });
      createdUptime = session!.uptime;
    });

    doomed.child.kill("SIGKILL");
    await moving.closed;
    // The agent reconnects to the survivor with its credential and its cumulative counters.
    const resumed = await agent(survivor.wsUrl, { resume: moving.welcome!.resume, pageId: moving.pageId, epoch: moving.epoch, bytes: moving.bytes });
    expect(resumed.welcome!.sessionId).toBe(id);

    // Within the page grace plus one lease TTL (not asserted as a timing; bounded at 15 s).
    await eventually(async () => {
      const list = await survivor.collector.getSessionInfo();
      expect(byId(list, id)).toMatchObject({ totalBytesSent: 150, activePages: 1, pageIds: [moving.pageId] });
      expect(byId(list, lostId)?.activePages).toBe(0);
    }, { timeoutMs: 15_000 });
    const details = (await survivor.collector.getSession(id))!;
    expect(details.pages.map((page) => page.node)).toEqual(["node-live"]);
    expect(details.uptime).toBeGreaterThanOrEqual(createdUptime);
    // The lost session's bytes stay counted while it waits for its session timeout.
    expect(byId(await survivor.collector.getSessionInfo(), lostId)?.totalBytesSent).toBe(7);
  }, 30_000);
});
