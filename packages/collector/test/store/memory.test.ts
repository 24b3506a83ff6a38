import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemorySessionStore } from "../../src/store/memory.js";
import { ManualClock, tempDir } from "../helpers/collector.js";
import { describeDurableStoreContract, describeStoreContract, makePage, makeRecord } from "../store.contract.js";

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

  it("an unreadable snapshot with no previous generation is reported and the store starts empty", async () => {
    const path = join(dir.path, "corrupt");
    await mkdir(path, { recursive: true });
    await writeFile(join(path, "sessions.json"), "{ not json");
    const errors: string[] = [];
    const store = new MemorySessionStore({ dataDir: path, onUnreadableSnapshot: (message) => errors.push(message) });
    expect((await store.open()).sessions).toEqual([]);
    expect(errors).toHaveLength(1);
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

});

describe("memory store counters file", () => {
  it("countersChanged() writes the counters file, not the snapshot; a reopened store applies it", async () => {
    const path = join(dir.path, "counters");
    const store = new MemorySessionStore({ dataDir: path });
    await store.open();
    const record = makeRecord("c1", { totalBytesSent: 100, pages: [makePage("p1", 100)] });
    await store.put(record);
    await store.put(makeRecord("quiet", { userAgent: "Quiet/1.0" }));
    await store.flush();
    expect(store.writes).toEqual({ snapshots: 1, counters: 0 });
    const snapshot = await readFile(join(path, "sessions.json"), "utf8");
    const { mtimeMs } = await stat(join(path, "sessions.json"));

    const page = record.pages.get("p1")!;
    page.epochBytes = 900;
    page.seq = 7;
    record.totalBytesSent = 900;
    store.countersChanged(record);
    await store.flush();
    expect(store.writes).toEqual({ snapshots: 1, counters: 1 });
    expect(await readFile(join(path, "sessions.json"), "utf8")).toBe(snapshot);
    expect((await stat(join(path, "sessions.json"))).mtimeMs).toBe(mtimeMs);
    // Compact: only the session whose counters changed, no user agent, no path.
    const text = await readFile(join(path, "counters.json"), "utf8");
    expect(JSON.parse(text)).toMatchObject({ version: 1, generation: 1, sessions: [["c1", 900, record.lastCommAt, ["p1", 1, 7, 900, 0]]] });
    expect(text).not.toContain("Mozilla");
    expect(text).not.toContain("quiet");
    // Nothing changed since: nothing is written.
    await store.flush();
    expect(store.writes).toEqual({ snapshots: 1, counters: 1 });
    // A crash: no close, a second store on the same folder has the snapshot plus the counters.
    const reopened = new MemorySessionStore({ dataDir: path });
    const { sessions } = await reopened.open();
    const restored = sessions.find((session) => session.id === "c1")!;
    expect(restored.totalBytesSent).toBe(900);
    expect(restored.pages.get("p1")).toMatchObject({ epoch: 1, seq: 7, epochBytes: 900, earlierBytes: 0 });
    await reopened.close();
    await store.close();
  });

  it("writes the counters file as JSON.stringify would, odd ids, big numbers and a session larger than its write buffer included", async () => {
    const path = join(dir.path, "counters-format");
    const store = new MemorySessionStore({ dataDir: path });
    await store.open();
    const odd = makeRecord('s "quoted" \\ ünï', { totalBytesSent: 2 ** 53 - 1, lastCommAt: 1_764_000_000_123, pages: [makePage("p\nline", 2 ** 40), makePage("plain-page", 7)] });
    const many = makeRecord("many", { totalBytesSent: 5, pages: Array.from({ length: 3_000 }, (_, i) => makePage(`page-${"x".repeat(40)}-${i}`, i)) });
    const plain = Array.from({ length: 500 }, (_, i) => makeRecord(`s-${i}`, { totalBytesSent: i * 1_000_003, pages: [makePage(`p-${i}`, i * 1_000_003)] }));
    const records = [odd, ...plain.slice(0, 250), many, ...plain.slice(250)];
    for (const record of records) await store.put(record);
    await store.flush();
    for (const record of records) {
      record.totalBytesSent += 1;
      store.countersChanged(record);
    }
    await store.flush();
    expect(store.writes.counters).toBe(1);
    const text = await readFile(join(path, "counters.json"), "utf8");
    const entries = records.map((record) => [record.id, record.totalBytesSent, record.lastCommAt, Array.from(record.pages.values()).flatMap((page) => [page.id, page.epoch, page.seq, page.epochBytes, page.earlierBytes])]);
    expect(text).toBe(JSON.stringify({ version: 1, generation: 1, savedAt: JSON.parse(text).savedAt, sessions: entries }));
    await store.close();
  });

  it("writes the counters file at most every countersIntervalMs, a snapshot after a structural change at once", async () => {
    const path = join(dir.path, "counters-interval");
    const clock = new ManualClock();
    const store = new MemorySessionStore({ dataDir: path, snapshotIntervalMs: 2_000, countersIntervalMs: 10_000, scheduler: clock, now: () => clock.now() });
    await store.open();
    const record = makeRecord("c1", { totalBytesSent: 100, pages: [makePage("p1", 100)] });
    await store.put(record);
    clock.advance(2_000);
    await store.settled();
    expect(store.writes).toEqual({ snapshots: 1, counters: 0 });
    const rise = (bytes: number): void => {
      record.pages.get("p1")!.epochBytes = bytes;
      record.totalBytesSent = bytes;
      store.countersChanged(record);
    };
    // Bytes rise every round; four rounds of 2 s are not yet 10 s since the snapshot.
    for (let round = 1; round <= 4; round++) {
      rise(100 + round);
      clock.advance(2_000);
      await store.settled();
      expect(store.writes).toEqual({ snapshots: 1, counters: 0 });
    }
    clock.advance(2_000);
    await store.settled();
    expect(store.writes).toEqual({ snapshots: 1, counters: 1 });
    expect(JSON.parse(await readFile(join(path, "counters.json"), "utf8")).sessions[0][1]).toBe(104);
    // A structural change does not wait for the counters interval.
    rise(200);
    await store.put(makeRecord("c2"));
    clock.advance(2_000);
    await store.settled();
    expect(store.writes).toEqual({ snapshots: 2, counters: 1 });
    // flush() (graceful shutdown) writes pending counters whatever the interval.
    rise(300);
    await store.flush();
    expect(store.writes).toEqual({ snapshots: 2, counters: 2 });
    await store.close();
  });

  it("a structural change writes the snapshot of a new generation; the older counters file no longer applies", async () => {
    const path = join(dir.path, "generations");
    const store = new MemorySessionStore({ dataDir: path });
    await store.open();
    const record = makeRecord("g1", { totalBytesSent: 10, pages: [makePage("p1", 10)] });
    await store.put(record);
    await store.flush();
    record.totalBytesSent = record.pages.get("p1")!.epochBytes = 50;
    store.countersChanged(record);
    await store.flush();
    await store.put(makeRecord("g2"));
    await store.flush();
    expect(store.writes).toEqual({ snapshots: 2, counters: 1 });
    const snapshot = JSON.parse(await readFile(join(path, "sessions.json"), "utf8")) as { generation: number };
    const counters = JSON.parse(await readFile(join(path, "counters.json"), "utf8")) as { generation: number; sessions: unknown[][] };
    expect(snapshot.generation).toBe(2);
    expect(counters.generation).toBe(1);
    await store.close();

    // A counters file of another generation (here: forged with bigger counters) is ignored.
    counters.sessions = [["g1", 5_000, 1_764_000_000_000, ["p1", 1, 9, 5_000, 0]]];
    await writeFile(join(path, "counters.json"), JSON.stringify(counters));
    const warnings: string[] = [];
    const reopened = new MemorySessionStore({ dataDir: path, onWarning: (message) => warnings.push(message) });
    const restored = (await reopened.open()).sessions.find((session) => session.id === "g1")!;
    expect(restored.totalBytesSent).toBe(50);
    expect(restored.pages.get("p1")!.epochBytes).toBe(50);
    expect(warnings).toEqual([]);
    // The next snapshot's generation is above every one seen on disk.
    await reopened.put(restored);
    await reopened.flush();
    expect((JSON.parse(await readFile(join(path, "sessions.json"), "utf8")) as { generation: number }).generation).toBe(3);
    await reopened.close();
  });

  it("counters are merged with max: a lower or older-epoch figure changes nothing, a later epoch moves bytes to earlier", async () => {
    const path = join(dir.path, "merge");
    const store = new MemorySessionStore({ dataDir: path });
    await store.open();
    const a = makeRecord("a", { totalBytesSent: 300, pages: [makePage("p1", 300), makePage("p2", 0)] });
    await store.put(a);
    await store.flush();
    await store.close();
    const { generation } = JSON.parse(await readFile(join(path, "sessions.json"), "utf8")) as { generation: number };
    const sessions = [["a", 100, 0, ["p1", 1, 0, 100, 0, "p2", 2, 1, 40, 20, "gone", 1, 1, 999, 0]], ["unknown", 9, 9, []], "junk"];
    await writeFile(join(path, "counters.json"), JSON.stringify({ version: 1, generation, savedAt: 0, sessions }));
    const reopened = new MemorySessionStore({ dataDir: path });
    const restored = (await reopened.open()).sessions[0]!;
    expect(restored.totalBytesSent).toBe(300);
    expect(restored.pages.get("p1")).toMatchObject({ epoch: 1, epochBytes: 300, earlierBytes: 0 });
    expect(restored.pages.get("p2")).toMatchObject({ epoch: 2, seq: 1, epochBytes: 40, earlierBytes: 20 });
    expect(restored.pages.has("gone")).toBe(false);
    await reopened.close();
  });

  it("an unreadable counters file is reported and ignored: the snapshot loses nothing", async () => {
    const path = join(dir.path, "corrupt-counters");
    const store = new MemorySessionStore({ dataDir: path });
    await store.open();
    await store.put(makeRecord("k1", { totalBytesSent: 70, closedPagesBytes: 20, username: "kim", pages: [makePage("p1", 50)] }));
    await store.end("gone", { endedAt: Date.now(), reason: "closed" });
    await store.close();
    for (const text of ["{ not json", '{"version":1,"generation":"x","sessions":[]}']) {
      await writeFile(join(path, "counters.json"), text);
      const warnings: string[] = [];
      const reopened = new MemorySessionStore({ dataDir: path, onWarning: (message) => warnings.push(message) });
      const { sessions } = await reopened.open();
      expect(warnings).toEqual(["the counters file could not be read; using the snapshot alone"]);
      expect(sessions).toHaveLength(1);
      expect(sessions[0]).toMatchObject({ id: "k1", username: "kim", totalBytesSent: 70, closedPagesBytes: 20 });
      expect(sessions[0]!.pages.get("p1")!.epochBytes).toBe(50);
      expect(await reopened.getTombstone("gone")).toBeDefined();
      await reopened.close();
    }
  });

  it("without a data dir countersChanged() remembers nothing", async () => {
    const store = new MemorySessionStore();
    await store.open();
    const record = makeRecord("m1");
    await store.put(record);
    store.countersChanged(record);
    await store.flush();
    expect(store.writes).toEqual({ snapshots: 0, counters: 0 });
    await store.close();
  });
});
