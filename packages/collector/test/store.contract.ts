import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PageRecord, SessionRecord } from "../src/sessions/records.js";
import { SessionPersistence } from "../src/store/port.js";

/** A plain session record for store tests. */
export function makeRecord(id: string, overrides: Partial<Omit<SessionRecord, "pages">> & { pages?: PageRecord[] } = {}): SessionRecord {
  const { pages = [], ...rest } = overrides;
  return {
    id,
    project: "MyProject",
    createdAt: 1_764_000_000_000,
    userAgent: "Mozilla/5.0 test",
    clientAddress: "10.0.0.1",
    scope: "browser",
    username: "Unauthenticated",
    authorized: false,
    tokenExpiresAt: null,
    lastCommAt: 1_764_000_000_000,
    recentBytesSent: 0,
    totalBytesSent: 0,
    closedPagesBytes: 0,
    ...rest,
    pages: new Map(pages.map((page) => [page.id, page])),
  };
}

export function makePage(id: string, bytes = 0): PageRecord {
  return {
    id,
    path: "/",
    epoch: 1,
    seq: 1,
    epochBytes: bytes,
    earlierBytes: 0,
    openedAt: 1_764_000_000_000,
    connectedAt: 1_764_000_000_000,
    disconnectedAt: null,
  };
}

/**
 * The contract every persistence port must pass (the embedded store now, Redis next).
 * `makeStore` gets a fresh, empty store each time.
 */
export function describeStoreContract(name: string, makeStore: () => Promise<SessionPersistence>): void {
  describe(`SessionPersistence contract: ${name}`, () => {
    let store: SessionPersistence;
    beforeEach(async () => {
      store = await makeStore();
      await store.open();
    });
    afterEach(async () => {
      await store.close();
    });

    it("is a SessionPersistence, and every method but countersChanged returns a Promise", () => {
      expect(store).toBeInstanceOf(SessionPersistence);
      const record = makeRecord("p1");
      const results = [
        store.put(record),
        store.getTombstone("p1"),
        store.prune(),
        store.tombstoneFloor(),
        store.ping(),
        store.flush(),
        store.end("nope", { endedAt: 1, reason: "closed" }),
      ];
      for (const result of results) expect(result).toBeInstanceOf(Promise);
      expect(store.countersChanged(record)).toBeUndefined();
      return Promise.all(results);
    });

    it("end leaves a tombstone, for that session only", async () => {
      const endedAt = Date.now();
      await store.put(makeRecord("a", { username: "billy" }));
      await store.end("a", { endedAt, reason: "closed" });
      expect(await store.getTombstone("a")).toEqual({ endedAt, reason: "closed" });
      expect(await store.getTombstone("b")).toBeUndefined();
    });

    it("the tombstone floor starts at 0", async () => {
      expect(await store.tombstoneFloor()).toBe(0);
    });

    it("ping resolves while open", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}

/**
 * The durability part of the contract, for stores that keep state across restarts: `reopen`
 * gives a new store instance over the same storage.
 */
export function describeDurableStoreContract(name: string, reopen: () => Promise<SessionPersistence>): void {
  describe(`SessionPersistence durability: ${name}`, () => {
    it("keeps sessions (creation time, closed-page bytes, page counters) and tombstones across a close and reopen", async () => {
      const first = await reopen();
      await first.open();
      await first.put(makeRecord("kept", { createdAt: 42, closedPagesBytes: 900, totalBytesSent: 1_000, pages: [makePage("page-0001", 100)] }));
      await first.put(makeRecord("ended"));
      await first.end("ended", { endedAt: Date.now(), reason: "timeout" });
      await first.close();

      const second = await reopen();
      const { sessions } = await second.open();
      try {
        expect(sessions.map((session) => session.id)).toEqual(["kept"]);
        const kept = sessions[0]!;
        expect(kept).toMatchObject({ createdAt: 42, closedPagesBytes: 900, totalBytesSent: 1_000 });
        expect(kept.pages.get("page-0001")).toMatchObject({ epochBytes: 100, epoch: 1, seq: 1 });
        expect((await second.getTombstone("ended"))?.reason).toBe("timeout");
      } finally {
        await second.close();
      }
    });

    it("a put after a change keeps the latest state; counters that rose in place are kept", async () => {
      const first = await reopen();
      await first.open();
      const record = makeRecord("changing", { totalBytesSent: 10, pages: [makePage("p1", 10)] });
      await first.put(record);
      await first.flush();
      record.username = "billy";
      await first.put(record);
      record.pages.get("p1")!.epochBytes = 70;
      record.totalBytesSent = 70;
      first.countersChanged(record);
      await first.close();

      const second = await reopen();
      const { sessions } = await second.open();
      try {
        const restored = sessions.find((session) => session.id === "changing")!;
        expect(restored).toMatchObject({ username: "billy", totalBytesSent: 70 });
        expect(restored.pages.get("p1")!.epochBytes).toBe(70);
      } finally {
        await second.close();
      }
    });
  });
}
