import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CollectorOptions } from "@sessionlens/collector";
import { redisAvailable, redisServerAvailable, startPrivateRedisCluster, TEST_REDIS_URL, uniquePrefix, type PrivateRedisCluster } from "../../../../testing/redis.js";
import { TestAgent } from "../helpers/agent.js";
import type { SessionInfo } from "@sessionlens/shared";
import { eventually, ManualClock, startCollector, type TestCollector } from "../helpers/collector.js";
import { deleteKeys } from "../helpers/redis.js";
import { SseReader } from "../helpers/sse.js";

const sessionById = (list: SessionInfo[], id: string): SessionInfo | undefined => list.find((session) => session.id === id);

const SECRET = "cluster-test-secret-0123456789abcdef";

/** Two collectors sharing sessions through the Redis at `url()`. */
function describeTwoNodes(name: string, enabled: boolean, url: () => string, cleanup: (prefix: string) => Promise<void>): void {
  describe.runIf(enabled)(`two collectors on ${name}`, () => {
    const open: { close(): Promise<void> }[] = [];
    const prefixes: string[] = [];

    async function twoNodes(options: CollectorOptions = {}): Promise<[TestCollector, TestCollector, ManualClock]> {
      const prefix = uniquePrefix("nodes");
      prefixes.push(prefix);
      const clock = new ManualClock(Date.now());
      const node = (nodeId: string) =>
        startCollector({ secret: SECRET, ...options, redis: { url: url(), prefix, nodeId, flushIntervalMs: 50, leaseTtlMs: 1_000 } }, clock);
      const a = await node("node-a");
      open.push(a);
      const b = await node("node-b");
      open.push(b);
      return [a, b, clock];
    }

    async function join(wsUrl: string, hello: Parameters<typeof TestAgent.join>[1] = {}): Promise<TestAgent> {
      const agent = await TestAgent.join(wsUrl, hello);
      open.push({ close: () => agent.close() });
      return agent;
    }

    afterEach(async () => {
      for (const item of open.splice(0).reverse()) await item.close();
      await Promise.all(prefixes.splice(0).map(cleanup));
    });

    it("each node answers for the sessions of both", async () => {
      const [a, b] = await twoNodes();
      const onA = await join(a.wsUrl, { project: "Alpha" });
      const onB = await join(b.wsUrl, { project: "Beta" });
      for (const node of [a, b]) {
        await eventually(async () => {
          const list = await node.collector.getSessionInfo();
          expect(list.map((session) => session.id).sort()).toEqual([onA.welcome!.sessionId, onB.welcome!.sessionId].sort());
        });
      }
      const betaOnA = await a.collector.getSessionInfo(undefined, "Beta");
      expect(betaOnA).toEqual([expect.objectContaining({ id: onB.welcome!.sessionId, project: "Beta", activePages: 1 })]);
      const response = await fetch(`${a.url}/api/v1/sessions?projectFilter=Beta`);
      expect(response.headers.get("sessionlens-partial")).toBeNull();
      expect(((await response.json()) as { id: string }[]).map((session) => session.id)).toEqual([onB.welcome!.sessionId]);
    });

    it("a session whose two pages sit on two nodes is one session: pages, bytes and lastComm are their union, details name each page's node", async () => {
      const [a, b] = await twoNodes();
      const first = await join(a.wsUrl, { bytes: 100 });
      const second = await join(b.wsUrl, { resume: first.welcome!.resume, bytes: 40 });
      const id = first.welcome!.sessionId;
      expect(second.welcome!.sessionId).toBe(id);
      first.heartbeat(10);
      for (const node of [a, b]) {
        await eventually(async () => {
          const session = sessionById(await node.collector.getSessionInfo(), id);
          expect(session).toMatchObject({ activePages: 2, totalBytesSent: 150 });
          expect(session!.pageIds.sort()).toEqual([first.pageId, second.pageId].sort());
        });
      }
      const details = await (await fetch(`${b.url}/api/v1/sessions/${id}`)).json();
      const nodes = Object.fromEntries((details as { pages: { id: string; node: string }[] }).pages.map((page) => [page.id, page.node]));
      expect(nodes).toEqual({ [first.pageId]: "node-a", [second.pageId]: "node-b" });

      // One page leaves: the session goes on with the other, its bytes kept.
      first.bye();
      await eventually(async () => {
        const session = sessionById(await b.collector.getSessionInfo(), id);
        expect(session).toMatchObject({ activePages: 1, pageIds: [second.pageId], totalBytesSent: 150 });
      });
    });

    it("a command sent to one node reaches the page on the other", async () => {
      const [a, b] = await twoNodes();
      const agent = await join(b.wsUrl);
      const id = agent.welcome!.sessionId;
      await eventually(async () => expect(sessionById(await a.collector.getSessionInfo(), id)).toBeDefined());

      const delivered = agent.next("message");
      const posted = await fetch(`${a.url}/api/v1/sessions/${id}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ type: "notice", payload: { text: "hello from node a" } }),
      });
      expect(posted.status).toBe(202);
      expect(await delivered).toMatchObject({ type: "message", messageType: "notice", payload: { text: "hello from node a" } });

      const told = agent.next("closeSession");
      expect(await a.collector.closeSession(id, "bye now")).toBe(true);
      expect(await told).toMatchObject({ message: "bye now" });
      expect((await agent.closed).code).toBe(4000);
      for (const node of [a, b]) await eventually(async () => expect(sessionById(await node.collector.getSessionInfo(), id)).toBeUndefined());
      expect(await a.collector.closeSession("no-such-session")).toBe(false);
    });

    it("a page is closed from the node that does not hold it", async () => {
      const [a, b] = await twoNodes();
      const agent = await join(b.wsUrl);
      const id = agent.welcome!.sessionId;
      await eventually(async () => expect(sessionById(await a.collector.getSessionInfo(), id)?.pageIds).toEqual([agent.pageId]));
      const response = await fetch(`${a.url}/api/v1/sessions/${id}/pages/${agent.pageId}`, { method: "DELETE" });
      expect(response.status).toBe(204);
      expect((await agent.closed).code).toBe(4001);
      await eventually(async () => expect(sessionById(await a.collector.getSessionInfo(), id)?.pageIds).toEqual([]));
    });

    it("the event stream of one node shows changes made on the other", async () => {
      const [a, b] = await twoNodes();
      const stream = await SseReader.open(`${a.url}/api/v1/events`);
      open.push({ close: async () => stream.close() });
      await stream.waitFor((event) => event.type === "snapshot");
      const agent = await join(b.wsUrl, { project: "Remote" });
      const id = agent.welcome!.sessionId;
      const upsert = await stream.waitFor((event) => event.type === "upsert" && (JSON.parse(event.data) as { id: string }).id === id);
      expect(JSON.parse(upsert.data)).toMatchObject({ id, project: "Remote", activePages: 1 });
      await b.collector.closeSession(id);
      const removed = await stream.waitFor((event) => event.type === "remove");
      expect(JSON.parse(removed.data)).toEqual({ id, reason: "closed" });
    });
  });
}

const sharedRedis = await redisAvailable();
describeTwoNodes("the shared Redis", sharedRedis, () => TEST_REDIS_URL, (prefix) => deleteKeys(TEST_REDIS_URL, prefix));

const privateServers = redisServerAvailable();
let cluster: PrivateRedisCluster | null = null;
describe.runIf(privateServers)("on a three-master Redis Cluster", () => {
  beforeAll(async () => {
    cluster = await startPrivateRedisCluster(3);
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });
  describeTwoNodes("a Redis Cluster", privateServers, () => cluster!.url, async () => {});
});
