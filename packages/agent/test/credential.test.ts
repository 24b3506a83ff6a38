import { afterEach, describe, expect, it, vi } from "vitest";
import { createSharedCredential, type Lease, type SharedCredential } from "../src/credential.js";
import { FakeEnvironment, flush } from "./testUtils/fakeEnvironment.js";
import { FakeIndexedDB, FakeLocalStorage, FakeLocks, storageWindow, type FakeProfile } from "./testUtils/fakeStorage.js";

const KEY = JSON.stringify(["MyProject", "ws://127.0.0.1:8787/ws"]);
const WAIT_MS = 10_000;
const A = { sessionId: "session-A", resume: "resume-A" };

function tab(profile: FakeProfile, env = new FakeEnvironment()): SharedCredential {
  env.window = storageWindow(profile) as never;
  return createSharedCredential(env.window, KEY, env, WAIT_MS);
}

/** Waits for `promise` while moving fake time on (the IndexedDB lease polls on timers). */
async function within<T>(env: FakeEnvironment, promise: Promise<T>, limitMs = 1000): Promise<T> {
  let done = false;
  void promise.then(() => (done = true));
  for (let waited = 0; !done && waited <= limitMs; waited += 50) await env.advance(50);
  return promise;
}

/** Settles `promise` and says whether it has, without waiting for it. */
async function settled<T>(promise: Promise<T>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await flush();
  return done;
}

afterEach(() => vi.restoreAllMocks());

describe("in memory (Node, storage: false)", () => {
  it("keeps the credential for the next connect of the same page", async () => {
    const store = createSharedCredential(undefined, KEY, new FakeEnvironment(), WAIT_MS);
    const first = await store.acquire();
    expect(first.credential).toBeNull();
    first.release(A);
    expect((await store.acquire()).credential).toEqual(A);
  });
});

describe.each([
  ["secure context: navigator.locks + IndexedDB", (): FakeProfile => ({ locks: new FakeLocks(), indexedDB: new FakeIndexedDB(), localStorage: new FakeLocalStorage() })],
  ["insecure context: IndexedDB lease", (): FakeProfile => ({ indexedDB: new FakeIndexedDB(), localStorage: new FakeLocalStorage() })],
])("two tabs, %s", (_name, makeProfile) => {
  it("the second tab waits for the first one's welcome and reads its credential", async () => {
    const profile = makeProfile();
    const env = new FakeEnvironment();
    // Both start at the same instant.
    const firstLease = tab(profile, env).acquire();
    const secondLease = tab(profile, env).acquire();
    const held = await within(env, firstLease);
    expect(held.credential).toBeNull();
    await env.advance(1000);
    expect(await settled(secondLease)).toBe(false);

    held.release(A); // the welcome of the first tab
    const next = await within(env, secondLease);
    expect(next.credential).toEqual(A);
    next.release(A);
    // A third page load, much later, presents it too.
    const third = await within(env, tab(profile, env).acquire());
    expect(third.credential).toEqual(A);
  });

  it("hands over even when the first tab's attempt fails: the second one then connects first", async () => {
    const profile = makeProfile();
    const env = new FakeEnvironment();
    const firstLease = tab(profile, env).acquire();
    const secondLease = tab(profile, env).acquire();
    (await within(env, firstLease)).release(null);
    const second = await within(env, secondLease);
    expect(second.credential).toBeNull();
    second.release(A);
    expect((await within(env, tab(profile, env).acquire())).credential).toEqual(A);
  });

  it("ten tabs at once all read the credential the first one stored", async () => {
    const profile = makeProfile();
    const env = new FakeEnvironment();
    const leases = Array.from({ length: 10 }, () => tab(profile, env).acquire());
    const seen: (string | null)[] = [];
    const order: number[] = [];
    leases.forEach((pending, index) => void pending.then(() => order.push(index)));
    for (let step = 0; step < 10; step++) {
      // Whichever tab got in next (in the lease fallback the order is by poll timing).
      for (let waited = 0; order.length <= step && waited < 5000; waited += 50) await env.advance(50);
      const lease: Lease = await leases[order[step]!]!;
      seen.push(lease.credential?.sessionId ?? null);
      // Only a tab without a credential gets a new session; the others resume it.
      lease.release(lease.credential ?? A);
    }
    expect(seen).toEqual([null, ...Array(9).fill("session-A")]);
  });
});

describe("credential storage", () => {
  it("stores in IndexedDB, keyed by project and collector, and writes only when the credential changes", async () => {
    const idb = new FakeIndexedDB();
    const store = tab({ locks: new FakeLocks(), indexedDB: idb });
    (await store.acquire()).release(A);
    await flush();
    expect(idb.data.get(KEY)).toEqual(A);
    const before = idb.transactions;
    (await store.acquire()).release(A);
    await flush();
    expect(idb.transactions).toBe(before + 1); // the read only
    const other = createSharedCredential(storageWindow({ indexedDB: idb }) as never, JSON.stringify(["Other", "ws://x/ws"]), new FakeEnvironment(), WAIT_MS);
    expect((await other.acquire()).credential).toBeNull();
  });

  it("falls back to localStorage when IndexedDB cannot be opened", async () => {
    const idb = new FakeIndexedDB();
    idb.failure = "open-error";
    const local = new FakeLocalStorage();
    const store = tab({ locks: new FakeLocks(), indexedDB: idb, localStorage: local });
    (await store.acquire()).release(A);
    await flush();
    expect(JSON.parse(local.getItem(`sessionlens:${KEY}`)!)).toEqual(A);
    expect((await store.acquire()).credential).toEqual(A);
  });

  it("falls back when IndexedDB hangs (after 5 s) or throws", async () => {
    const env = new FakeEnvironment();
    const idb = new FakeIndexedDB();
    idb.failure = "hang";
    const local = new FakeLocalStorage();
    local.setItem(`sessionlens:${KEY}`, JSON.stringify(A));
    const store = tab({ locks: new FakeLocks(), indexedDB: idb, localStorage: local }, env);
    const lease = store.acquire();
    expect(await settled(lease)).toBe(false);
    await env.advance(5000);
    expect((await lease).credential).toEqual(A);

    const throwing = new FakeIndexedDB();
    throwing.failure = "throw";
    expect((await tab({ indexedDB: throwing, localStorage: local }).acquire()).credential).toEqual(A);
  });

  it("runs in memory when every storage throws on access (sandboxed iframe, Safari private mode)", async () => {
    const store = tab({ locks: "throw", indexedDB: "throw", localStorage: "throw" });
    const first = await store.acquire();
    expect(first.credential).toBeNull();
    first.release(A);
    expect((await store.acquire()).credential).toEqual(A);
  });

  it("keeps what it knew when storage breaks mid-life", async () => {
    const local = new FakeLocalStorage();
    const store = tab({ localStorage: local });
    (await store.acquire()).release(A);
    await flush();
    vi.spyOn(local, "getItem").mockImplementation(() => {
      throw new DOMException("quota", "QuotaExceededError");
    });
    expect((await store.acquire()).credential).toEqual(A);
  });

  it("ignores garbage in localStorage", async () => {
    const local = new FakeLocalStorage();
    local.setItem(`sessionlens:${KEY}`, "{not json");
    expect((await tab({ localStorage: local }).acquire()).credential).toBeNull();
    local.setItem(`sessionlens:${KEY}`, JSON.stringify({ sessionId: 5, resume: "x" }));
    expect((await tab({ localStorage: local }).acquire()).credential).toBeNull();
  });
});

describe("the mutex", () => {
  it("goes on unlocked when another tab holds the lock longer than waitMs", async () => {
    const profile: FakeProfile = { locks: new FakeLocks(), indexedDB: new FakeIndexedDB() };
    const env = new FakeEnvironment();
    await tab(profile).acquire(); // held and never released: a hung tab
    const late = tab(profile, env).acquire();
    expect(await settled(late)).toBe(false);
    await env.advance(WAIT_MS);
    expect(await settled(late)).toBe(true);
  });

  it("goes on unlocked when navigator.locks refuses (opaque origin)", async () => {
    const locks = new FakeLocks();
    locks.failure = "reject";
    const lease = await tab({ locks, indexedDB: new FakeIndexedDB() }).acquire();
    expect(lease.credential).toBeNull();
  });

  it("an IndexedDB lease left by a tab that died expires", async () => {
    const profile: FakeProfile = { indexedDB: new FakeIndexedDB() };
    const env = new FakeEnvironment();
    await tab(profile, env).acquire(); // never released
    const late = tab(profile, env).acquire();
    await env.advance(WAIT_MS);
    expect(await settled(late)).toBe(false);
    await env.advance(2000 + 200); // lease = waitMs + 2 s, polled every 50-150 ms
    expect(await settled(late)).toBe(true);
  });

  it("releases the lock even when storing the new credential fails", async () => {
    const locks = new FakeLocks();
    const local = new FakeLocalStorage();
    vi.spyOn(local, "setItem").mockImplementation(() => {
      throw new DOMException("quota", "QuotaExceededError");
    });
    const store = tab({ locks, localStorage: local });
    (await store.acquire()).release(A);
    await flush();
    expect(locks.isHeld(`sessionlens ${KEY}`)).toBe(false);
    expect((await store.acquire()).credential).toEqual(A);
  });
});
