import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { compileQuery } from "../src/query/filter.js";
import type { PageRecord, SessionRecord, SessionStore } from "../src/store/types.js";

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

const ids = (records: SessionRecord[]) => records.map((record) => record.id).sort();

/**
 * The contract every `SessionStore` must pass (the embedded store now, Redis later).
 * `makeStore` gets a fresh, empty store each time.
 */
export function describeStoreContract(name: string, makeStore: () => Promise<SessionStore>): void {
  describe(`SessionStore contract: ${name}`, () => {
    let store: SessionStore;
    beforeEach(async () => {
      store = await makeStore();
      await store.open();
    });
    afterEach(async () => {
      await store.close();
    });

    it("every method returns a Promise", () => {
      const record = makeRecord("p1");
      const results = [
        store.put(record),
        store.get("p1"),
        store.getTombstone("p1"),
        store.query(compileQuery({})),
        store.count(),
        store.ping(),
        store.flush(),
        store.end("nope", { endedAt: 1, reason: "closed" }),
      ];
      for (const result of results) expect(result).toBeInstanceOf(Promise);
      return Promise.all(results);
    });

    it("puts, gets and counts sessions", async () => {
      await store.put(makeRecord("a", { username: "billy" }));
      await store.put(makeRecord("b"));
      expect(await store.count()).toBe(2);
      expect((await store.get("a"))?.username).toBe("billy");
      expect(await store.get("missing")).toBeUndefined();
    });

    it("a put after a change re-indexes the session", async () => {
      const record = makeRecord("a");
      await store.put(record);
      record.username = "billy";
      await store.put(record);
      expect(ids(await store.query(compileQuery({ usernameFilter: "billy" })))).toEqual(["a"]);
      expect(await store.query(compileQuery({ usernameFilter: "Unauthenticated" }))).toEqual([]);
      expect(await store.count()).toBe(1);
    });

    it("queries by username, project, both, wildcards and none", async () => {
      await store.put(makeRecord("1", { username: "billy", project: "MyProject" }));
      await store.put(makeRecord("2", { username: "billy", project: "Other" }));
      await store.put(makeRecord("3", { username: "bob", project: "MyProject" }));
      await store.put(makeRecord("4", { username: "Billy", project: "MyProject" }));
      await store.put(makeRecord("5", { username: "b.lly", project: "My(Project)" }));
      const q = async (usernameFilter?: string, projectFilter?: string) =>
        ids(await store.query(compileQuery({ usernameFilter, projectFilter })));
      expect(await q()).toEqual(["1", "2", "3", "4", "5"]);
      expect(await q("billy")).toEqual(["1", "2"]);
      expect(await q(undefined, "MyProject")).toEqual(["1", "3", "4"]);
      expect(await q("billy", "MyProject")).toEqual(["1"]);
      expect(await q("b*")).toEqual(["1", "2", "3", "5"]);
      expect(await q("*lly", "My*")).toEqual(["1", "4", "5"]);
      expect(await q("b.lly")).toEqual(["5"]);
      expect(await q(undefined, "My(Project)")).toEqual(["5"]);
      expect(await q("nobody")).toEqual([]);
    });

    it("end removes the session and leaves a tombstone", async () => {
      const endedAt = Date.now();
      await store.put(makeRecord("a", { username: "billy" }));
      await store.end("a", { endedAt, reason: "closed" });
      expect(await store.get("a")).toBeUndefined();
      expect(await store.count()).toBe(0);
      expect(await store.query(compileQuery({ usernameFilter: "billy" }))).toEqual([]);
      expect(await store.getTombstone("a")).toEqual({ endedAt, reason: "closed" });
      expect(await store.getTombstone("b")).toBeUndefined();
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
export function describeDurableStoreContract(name: string, reopen: () => Promise<SessionStore>): void {
  describe(`SessionStore durability: ${name}`, () => {
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
  });
}
