import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileQuery } from "../../src/query/filter.js";
import { MemorySessionStore } from "../../src/store/memory.js";
import { tempDir } from "../helpers/collector.js";
import { describeDurableStoreContract, describeStoreContract, makeRecord } from "../store.contract.js";

describeStoreContract("memory", async () => new MemorySessionStore());

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

describeStoreContract("memory with a data dir", async () => {
  const path = join(dir.path, `contract-${Math.random().toString(36).slice(2)}`);
  return new MemorySessionStore({ dataDir: path });
});
describeDurableStoreContract("memory with a data dir", async () => new MemorySessionStore({ dataDir: join(dir.path, "durable") }));

describe("memory store", () => {
  it("an exact filter only looks at its index entry: the other field is tested once per match", async () => {
    const store = new MemorySessionStore();
    await store.open();
    for (let i = 0; i < 2_000; i++) await store.put(makeRecord(`s${i}`, { username: `user${i % 100}`, project: `P${i % 7}` }));
    const query = compileQuery({ usernameFilter: "user42", projectFilter: "P*" });
    let tested = 0;
    const project = { ...query.project, test: (value: string) => (tested++, query.project.test(value)) };
    const result = await store.query({ username: query.username, project });
    expect(result).toHaveLength(20);
    expect(tested).toBe(20);
    await store.close();
  });

  it("drops index entries that become empty", async () => {
    const store = new MemorySessionStore();
    await store.open();
    const record = makeRecord("a", { username: "billy" });
    await store.put(record);
    record.username = "bob";
    await store.put(record);
    await store.end("a", { endedAt: 1, reason: "closed" });
    expect(store.indexSizes()).toEqual({ usernames: 0, projects: 0 });
    await store.close();
  });

  it("writes the snapshot atomically and only when something changed", async () => {
    const path = join(dir.path, "atomic");
    const store = new MemorySessionStore({ dataDir: path, snapshotIntervalMs: 10 });
    await store.open();
    await store.put(makeRecord("a"));
    await store.flush();
    const files = await readdir(path);
    expect(files).toEqual(["sessions.json"]);
    const before = await readFile(join(path, "sessions.json"), "utf8");
    await store.flush();
    expect(await readFile(join(path, "sessions.json"), "utf8")).toBe(before);
    await store.close();
  });

  it("an unreadable snapshot is reported and the store starts empty", async () => {
    const path = join(dir.path, "corrupt");
    await mkdir(path, { recursive: true });
    await writeFile(join(path, "sessions.json"), "{ not json");
    const warnings: string[] = [];
    const store = new MemorySessionStore({ dataDir: path, onWarning: (message) => warnings.push(message) });
    expect((await store.open()).sessions).toEqual([]);
    expect(warnings).toHaveLength(1);
    await store.close();
  });

  it("forgets tombstones older than their time to live", async () => {
    let now = 1_000_000;
    const store = new MemorySessionStore({ tombstoneTtlMs: 1_000, now: () => now });
    await store.open();
    await store.end("a", { endedAt: now, reason: "closed" });
    expect(await store.getTombstone("a")).toBeDefined();
    now += 1_001;
    expect(await store.getTombstone("a")).toBeUndefined();
    await store.close();
  });
});

describe("memory store tombstones", () => {
  const DAY = 24 * 3_600_000;

  it("prune() forgets expired tombstones from the oldest, a bounded batch per call", async () => {
    let now = 1_764_000_000_000;
    const store = new MemorySessionStore({ tombstoneTtlMs: DAY, now: () => now });
    await store.open();
    for (let i = 0; i < 2_500; i++) await store.end(`old${i}`, { endedAt: now, reason: "timeout" });
    now += DAY / 2;
    await store.end("recent", { endedAt: now, reason: "closed" });
    await store.prune();
    expect(store.tombstoneCount()).toBe(2_501);
    now += DAY / 2 + 1;
    await store.prune();
    expect(store.tombstoneCount()).toBe(1_501);
    await store.prune();
    await store.prune();
    await store.prune();
    expect(store.tombstoneCount()).toBe(1);
    expect(await store.getTombstone("recent")).toEqual({ endedAt: now - DAY / 2 - 1, reason: "closed" });
    await store.close();
  });

  it("keeps at most maxTombstones, evicting the oldest; the floor is the latest end evicted and survives a restart", async () => {
    const path = join(dir.path, "tombstone-cap");
    let now = 1_764_000_000_000;
    const store = new MemorySessionStore({ dataDir: path, maxTombstones: 3, now: () => now });
    await store.open();
    expect(await store.tombstoneFloor()).toBe(0);
    for (let i = 1; i <= 5; i++) {
      now += 1_000;
      await store.end(`s${i}`, { endedAt: now, reason: "ended" });
    }
    expect(store.tombstoneCount()).toBe(3);
    expect(await store.getTombstone("s1")).toBeUndefined();
    expect(await store.getTombstone("s2")).toBeUndefined();
    expect(await store.getTombstone("s3")).toBeDefined();
    expect(await store.tombstoneFloor()).toBe(1_764_000_002_000);
    await store.close();

    const reopened = new MemorySessionStore({ dataDir: path, maxTombstones: 2, now: () => now });
    await reopened.open();
    // A lower cap at the next start evicts more, and raises the floor.
    expect(reopened.tombstoneCount()).toBe(2);
    expect(await reopened.tombstoneFloor()).toBe(1_764_000_003_000);
    await reopened.close();
  });

  it("countersChanged() makes the next snapshot be written", async () => {
    const path = join(dir.path, "counters");
    const store = new MemorySessionStore({ dataDir: path });
    await store.open();
    const record = makeRecord("c1");
    await store.put(record);
    await store.flush();
    record.totalBytesSent = 900;
    store.countersChanged();
    await store.flush();
    const written = JSON.parse(await readFile(join(path, "sessions.json"), "utf8")) as { sessions: { totalBytesSent: number }[] };
    expect(written.sessions[0]!.totalBytesSent).toBe(900);
    await store.close();
  });
});
