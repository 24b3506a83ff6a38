import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { compileQuery } from "../../src/query/filter.js";
import type { RedisPersistence } from "../../src/store/redis.js";
import { redisAvailable, redisServerAvailable, startPrivateRedisCluster, TEST_REDIS_URL, uniquePrefix, type PrivateRedisCluster } from "../../../../testing/redis.js";
import { describeDurableStoreContract, describeStoreContract, makePage, makeRecord } from "../store.contract.js";
import { deleteKeys, testRedisStore } from "../helpers/redis.js";

const ids = (records: readonly { id: string }[]) => records.map((record) => record.id).sort();

/**
 * The Redis persistence port on one backend: `url()` is read once the suite started (the cluster
 * is created in `beforeAll`).
 */
function describeRedisStore(name: string, enabled: boolean, url: () => string, cleanup: (prefix: string) => Promise<void>): void {
  describe.runIf(enabled)(`Redis store (${name})`, () => {
    const stores: RedisPersistence[] = [];
    const prefixes: string[] = [];
    let prefix = "";
    let clock = 1_764_000_000_000;

    const open = async (nodeId: string, options: Parameters<typeof testRedisStore>[2] = { nodeId }) => {
      const store = testRedisStore(url(), prefix, { now: () => clock, ...options, nodeId });
      stores.push(store);
      await store.open();
      return store;
    };

    const fresh = () => {
      prefix = uniquePrefix("store");
      prefixes.push(prefix);
      clock = 1_764_000_000_000;
    };

    afterEach(async () => {
      await Promise.all(stores.splice(0).map((store) => store.close()));
      await Promise.all(prefixes.splice(0).map(cleanup));
    });

    it("puts sessions and reads them back as the cluster view", async () => {
      fresh();
      const a = await open("node-a");
      await a.put(makeRecord("s1", { username: "billy", totalBytesSent: 100, pages: [makePage("page-1", 100)] }));
      await a.put(makeRecord("s2"));
      expect(await a.count()).toBe(2);
      const s1 = await a.readSession("s1");
      expect(s1).toMatchObject({ id: "s1", username: "billy", project: "MyProject", totalBytesSent: 100 });
      expect([...s1!.pages.values()]).toEqual([expect.objectContaining({ id: "page-1", node: "node-a", epochBytes: 100 })]);
      expect(await a.readSession("missing")).toBeUndefined();
    });

    it("queries by username, project, both, wildcards and none, and re-indexes a changed username", async () => {
      fresh();
      const a = await open("node-a");
      await a.put(makeRecord("1", { username: "billy", project: "MyProject" }));
      await a.put(makeRecord("2", { username: "billy", project: "Other" }));
      await a.put(makeRecord("3", { username: "bob", project: "MyProject" }));
      await a.put(makeRecord("4", { username: "Billy", project: "MyProject" }));
      await a.put(makeRecord("5", { username: "b.lly", project: "My(Project)" }));
      const q = async (usernameFilter?: string, projectFilter?: string) => ids(await a.query(compileQuery({ usernameFilter, projectFilter })));
      expect(await q()).toEqual(["1", "2", "3", "4", "5"]);
      expect(await q("billy")).toEqual(["1", "2"]);
      expect(await q(undefined, "MyProject")).toEqual(["1", "3", "4"]);
      expect(await q("billy", "MyProject")).toEqual(["1"]);
      expect(await q("b*")).toEqual(["1", "2", "3", "5"]);
      expect(await q("*lly", "My*")).toEqual(["1", "4", "5"]);
      expect(await q(undefined, "My(Project)")).toEqual(["5"]);
      expect(await q("nobody")).toEqual([]);

      const record = makeRecord("6");
      await a.put(record);
      record.username = "carol";
      record.authorized = true;
      await a.put(record);
      expect(await q("carol")).toEqual(["6"]);
      expect(await q("Unauthenticated")).toEqual([]);
    });

    it("an exact filter reads only the index of its value", async () => {
      fresh();
      const a = await open("node-a");
      for (let i = 0; i < 50; i++) await a.put(makeRecord(`other-${i}`, { username: `user-${i}` }));
      await a.put(makeRecord("mine", { username: "billy" }));
      expect(await a.queryIds(compileQuery({ usernameFilter: "billy" }))).toEqual(["mine"]);
    });

    it("end removes the session, its indexes, and leaves a tombstone", async () => {
      fresh();
      const a = await open("node-a");
      await a.put(makeRecord("a", { username: "billy" }));
      await a.end("a", { endedAt: clock, reason: "closed" });
      expect(await a.readSession("a")).toBeUndefined();
      expect(await a.count()).toBe(0);
      expect(await a.query(compileQuery({ usernameFilter: "billy" }))).toEqual([]);
      expect(await a.getTombstone("a")).toEqual({ endedAt: clock, reason: "closed" });
      expect(await a.getTombstone("b")).toBeUndefined();
      // A put of an ended session (a late write) does not bring it back.
      await a.put(makeRecord("a"));
      expect(await a.readSession("a")).toBeUndefined();
    });

    it("counter changes are written in one coalesced flush, only for sessions that changed", async () => {
      fresh();
      const a = await open("node-a", { nodeId: "node-a", flushIntervalMs: 60_000 });
      const page = makePage("page-1", 10);
      const one = makeRecord("one", { totalBytesSent: 10, pages: [page] });
      await a.put(one);
      await a.put(makeRecord("two"));
      const before = a.writes.sessions;
      for (let i = 1; i <= 100; i++) {
        page.epochBytes = 10 + i;
        one.totalBytesSent = 10 + i;
        one.lastCommAt = clock + i;
        a.countersChanged(one);
      }
      expect((await a.readSession("one"))?.totalBytesSent).toBe(10);
      await a.flush();
      expect(a.writes.sessions - before).toBe(1);
      expect(await a.readSession("one")).toMatchObject({ totalBytesSent: 110, lastCommAt: clock + 100 });
    });

    it("a node restarted with the same id gets back what it held", async () => {
      fresh();
      const first = await open("node-a");
      await first.put(makeRecord("kept", { createdAt: 42, closedPagesBytes: 900, totalBytesSent: 1_000, pages: [makePage("page-0001", 100)] }));
      await first.put(makeRecord("ended"));
      await first.end("ended", { endedAt: clock, reason: "timeout" });
      await first.close();

      const second = testRedisStore(url(), prefix, { nodeId: "node-a", now: () => clock });
      stores.push(second);
      const { sessions } = await second.open();
      expect(sessions.map((session) => session.id)).toEqual(["kept"]);
      expect(sessions[0]).toMatchObject({ createdAt: 42, closedPagesBytes: 900, totalBytesSent: 1_000 });
      expect(sessions[0]!.pages.get("page-0001")).toMatchObject({ epochBytes: 100, epoch: 1, seq: 1 });
      expect((await second.getTombstone("ended"))?.reason).toBe("timeout");
      const other = testRedisStore(url(), prefix, { nodeId: "node-b", now: () => clock });
      stores.push(other);
      expect((await other.open()).sessions).toEqual([]);
    });

    it("a session held by two nodes is their union: pages with their node, bytes summed, latest lastComm and identity", async () => {
      fresh();
      const a = await open("node-a");
      const b = await open("node-b");
      const onA = makeRecord("s", { totalBytesSent: 100, lastCommAt: clock + 5, pages: [makePage("page-a", 100)] });
      const onB = makeRecord("s", { totalBytesSent: 50, closedPagesBytes: 7, lastCommAt: clock + 9, pages: [makePage("page-b", 43)] });
      await a.put(onA);
      await b.put(onB);
      clock += 1_000;
      onA.username = "billy";
      onA.authorized = true;
      await a.put(onA);
      const merged = await b.readSession("s");
      expect(merged).toMatchObject({ totalBytesSent: 150, closedPagesBytes: 7, lastCommAt: clock - 1_000 + 9, username: "billy", authorized: true });
      expect(Object.fromEntries([...merged!.pages.values()].map((page) => [page.id, page.node]))).toEqual({ "page-a": "node-a", "page-b": "node-b" });
      expect(ids(await b.query(compileQuery({ usernameFilter: "billy" })))).toEqual(["s"]);

      // node-a lets go (its page left): the session stays, with node-a's bytes kept.
      (onA.pages as Map<string, unknown>).clear();
      onA.closedPagesBytes = 100;
      await a.end("s", { endedAt: clock, reason: "ended" });
      const kept = await b.readSession("s");
      expect(kept).toMatchObject({ totalBytesSent: 150 });
      expect([...kept!.pages.keys()]).toEqual(["page-b"]);
      expect(await a.getTombstone("s")).toBeUndefined();
      // The last holder lets go: now it ends.
      await b.end("s", { endedAt: clock, reason: "timeout" });
      expect(await a.readSession("s")).toBeUndefined();
      expect((await a.getTombstone("s"))?.reason).toBe("timeout");
    });

    it("a session closed by command on one node ends cluster-wide", async () => {
      fresh();
      const a = await open("node-a");
      const b = await open("node-b");
      await a.put(makeRecord("s", { pages: [makePage("page-a")] }));
      await b.put(makeRecord("s", { pages: [makePage("page-b")] }));
      await a.end("s", { endedAt: clock, reason: "closed" });
      expect(await b.readSession("s")).toBeUndefined();
      expect((await b.getTombstone("s"))?.reason).toBe("closed");
    });

    it("a dead node's pages leave after the page grace, not counted twice when their agents moved; its sessions end after the timeout", async () => {
      fresh();
      const options = { pageGraceMs: 15_000, sessionTimeoutMs: 60_000 };
      const dead = await open("node-dead", { nodeId: "node-dead", ...options });
      const survivor = await open("node-live", { nodeId: "node-live", ...options });
      // "moved": its page's agent resumed on the survivor; "alone": only the dead node held it.
      await dead.put(makeRecord("moved", { totalBytesSent: 300, closedPagesBytes: 100, lastCommAt: clock, pages: [makePage("page-m", 200)] }));
      await dead.put(makeRecord("alone", { totalBytesSent: 40, lastCommAt: clock, pages: [makePage("page-x", 40)] }));
      await dead.close(); // its lease is gone, as after a crash once the TTL ran out
      await survivor.put(makeRecord("moved", { totalBytesSent: 250, lastCommAt: clock + 1_000, pages: [makePage("page-m", 250)] }));
      expect((await survivor.readSession("moved"))?.totalBytesSent).toBe(350);

      clock += 14_000;
      await survivor.reapDeadNodes();
      expect((await survivor.readSession("alone"))?.pages.size).toBe(1);

      clock += 2_000;
      await survivor.reapDeadNodes();
      const moved = await survivor.readSession("moved");
      expect(moved).toMatchObject({ totalBytesSent: 350 });
      expect([...moved!.pages.values()].map((page) => page.node)).toEqual(["node-live"]);
      const alone = await survivor.readSession("alone");
      expect(alone).toMatchObject({ totalBytesSent: 40 });
      expect(alone!.pages.size).toBe(0);

      clock += 60_000;
      await survivor.reapDeadNodes();
      expect(await survivor.readSession("alone")).toBeUndefined();
      expect((await survivor.getTombstone("alone"))?.reason).toBe("timeout");
      expect(await survivor.readSession("moved")).toBeDefined();
    });

    it("ping resolves while Redis answers", async () => {
      fresh();
      const a = await open("node-a");
      await expect(a.ping()).resolves.toBeUndefined();
    });
  });
}

const sharedRedis = await redisAvailable();
describe.runIf(sharedRedis)("the persistence contract on the shared Redis", () => {
  const prefixes: string[] = [];
  afterAll(async () => {
    await Promise.all(prefixes.map((prefix) => deleteKeys(TEST_REDIS_URL, prefix)));
  });
  const next = () => {
    const prefix = uniquePrefix("contract");
    prefixes.push(prefix);
    return prefix;
  };
  describeStoreContract("redis", async () => testRedisStore(TEST_REDIS_URL, next(), { nodeId: "node-a" }));
  const durablePrefix = next();
  describeDurableStoreContract("redis", async () => testRedisStore(TEST_REDIS_URL, durablePrefix, { nodeId: "node-a" }));
});
describeRedisStore("single Redis", sharedRedis, () => TEST_REDIS_URL, (prefix) => deleteKeys(TEST_REDIS_URL, prefix));

const privateServers = redisServerAvailable();
let cluster: PrivateRedisCluster | null = null;
describe.runIf(privateServers)("on a three-master Redis Cluster", () => {
  beforeAll(async () => {
    cluster = await startPrivateRedisCluster(3);
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });
  describeStoreContract("redis cluster", async () => testRedisStore(cluster!.url, uniquePrefix("contract"), { nodeId: "node-a" }));
  const durablePrefix = uniquePrefix("contract");
  describeDurableStoreContract("redis cluster", async () => testRedisStore(cluster!.url, durablePrefix, { nodeId: "node-a" }));
  describeRedisStore("Redis Cluster", privateServers, () => cluster!.url, async () => {});
});

