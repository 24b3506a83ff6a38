import { LIMITS } from "@sessionlens/shared";
import type { Environment, PageWindow } from "./environment.js";

/**
 * The session credential shared by the tabs of one browser for one project and collector.
 *
 * Two tabs opened at the same instant must end in one session, so a page connects only while it
 * holds a cross-tab mutex: it reads the shared credential, presents it in its hello, stores what
 * the welcome returns and only then lets the next tab in. The next holder must read what the last
 * one wrote, which localStorage does not promise across Chromium's tab processes; IndexedDB does
 * (its transactions are ordered by one backend per origin), so the credential lives there.
 *
 * - mutex: `navigator.locks` (secure contexts); else, on plain-http pages, a lease taken with a
 *   compare-and-set in an IndexedDB readwrite transaction (those run one at a time per store);
 *   else none.
 * - credential: IndexedDB; else localStorage; else memory. A layer that throws, fails or hangs is
 *   dropped for the rest of the page's life: storage never breaks the agent.
 */
export interface Credential {
  sessionId: string;
  resume: string;
}

/** Exclusive use of the shared credential while one page connects. */
export interface Lease {
  /** The stored credential, or null when this browser has none yet. */
  credential: Credential | null;
  /** Ends the lease, first storing `next` when the collector issued a different credential. */
  release(next: Credential | null): void;
}

/** The credential shared by the tabs, handed out one lease at a time (not a store of sessions). */
export interface SharedCredential {
  /** Waits for the other tabs (at most `waitMs`), then reads the credential. Never rejects. */
  acquire(): Promise<Lease>;
}

interface Cell {
  read(): Promise<Credential | null>;
  write(value: Credential): Promise<void>;
}

const DATABASE = "sessionlens";
const OBJECT_STORE = "sessions";
/** An IndexedDB call that has not finished by then is treated as broken (old Safari could hang). */
const IDB_TIMEOUT_MS = 5000;
const noop = (): void => undefined;

/**
 * `win` undefined (Node, or `storage: false`): a credential in memory for this agent only. `key` names
 * the project and collector; `waitMs` bounds the wait for another tab's lock or lease.
 */
export function createSharedCredential(
  win: PageWindow | undefined,
  key: string,
  env: Environment,
  waitMs: number,
): SharedCredential {
  const idb = guard(() => win?.indexedDB);
  const local = guard(() => win?.localStorage);
  const locks = guard(() => win?.navigator.locks);
  const cells: Cell[] = [];
  if (idb) cells.push(idbCell(idb, key, env));
  if (local) cells.push(localCell(local, `sessionlens:${key}`));
  // What this page last knew: outlives the loss of every storage layer.
  let last: Credential | null = null;

  async function first<T>(op: (cell: Cell) => Promise<T>): Promise<T | undefined> {
    while (cells[0]) {
      try {
        return await op(cells[0]);
      } catch {
        cells.shift();
      }
    }
    return undefined;
  }

  const lock: () => Promise<() => void> = locks
    ? () => lockManagerMutex(locks, `sessionlens ${key}`, env, waitMs)
    : idb
      ? () => leaseMutex(idb, `lease ${key}`, env, waitMs)
      : () => Promise.resolve(noop);

  return {
    async acquire() {
      const unlock = await lock();
      const credential = (await first((cell) => cell.read())) ?? last;
      return {
        credential,
        release(next) {
          if (!next || (credential && next.sessionId === credential.sessionId && next.resume === credential.resume)) {
            unlock();
            return;
          }
          last = next;
          void first((cell) => cell.write(next)).then(unlock);
        },
      };
    },
  };
}

function guard<T>(get: () => T): T | undefined {
  try {
    return get();
  } catch {
    return undefined; // sandboxed iframes and disabled storage throw on mere access
  }
}

function valid(value: unknown): Credential | null {
  const credential = value as Credential | null | undefined;
  return credential &&
    typeof credential.sessionId === "string" &&
    typeof credential.resume === "string" &&
    credential.resume.length <= LIMITS.resumeMaxChars
    ? { sessionId: credential.sessionId, resume: credential.resume }
    : null;
}

function localCell(storage: Storage, key: string): Cell {
  return {
    read: async () => {
      const text = storage.getItem(key);
      try {
        return valid(JSON.parse(text ?? "null"));
      } catch {
        return null; // garbage in the slot: start afresh
      }
    },
    write: async (value) => storage.setItem(key, JSON.stringify(value)),
  };
}

function idbCell(idb: IDBFactory, key: string, env: Environment): Cell {
  return {
    read: () =>
      transact(idb, env, "readonly", (store) => {
        const request = store.get(key);
        return () => valid(request.result);
      }),
    write: (value) =>
      transact(idb, env, "readwrite", (store) => {
        store.put(value, key);
        return noop;
      }),
  };
}

/**
 * Runs `body` in one transaction on the agent's object store and resolves, once the transaction
 * has committed, with what the function `body` returned gives.
 */
function transact<T>(
  idb: IDBFactory,
  env: Environment,
  mode: IDBTransactionMode,
  body: (store: IDBObjectStore) => () => T,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const open = idb.open(DATABASE, 1);
    const timer = env.setTimeout(() => reject(new Error("IndexedDB did not answer")), IDB_TIMEOUT_MS);
    const fail = (error: unknown): void => {
      env.clearTimeout(timer);
      reject(error);
    };
    open.onupgradeneeded = () => open.result.createObjectStore(OBJECT_STORE);
    open.onerror = () => fail(open.error);
    open.onsuccess = () => {
      const db = open.result;
      try {
        const transaction = db.transaction(OBJECT_STORE, mode);
        const result = body(transaction.objectStore(OBJECT_STORE));
        transaction.oncomplete = () => {
          db.close();
          env.clearTimeout(timer);
          resolve(result());
        };
        transaction.onerror = transaction.onabort = () => {
          db.close();
          fail(transaction.error);
        };
      } catch (error) {
        db.close();
        fail(error);
      }
    };
  });
}

/** navigator.locks: released at once if the tab dies; waits at most `waitMs`, then goes on unlocked. */
function lockManagerMutex(locks: LockManager, name: string, env: Environment, waitMs: number): Promise<() => void> {
  return new Promise((resolve) => {
    let waiting = true;
    const giveUp = (): void => {
      if (waiting) resolve(noop);
      waiting = false;
    };
    const timer = env.setTimeout(giveUp, waitMs);
    try {
      locks
        .request(name, () => {
          if (!waiting) return undefined; // granted after we gave up: hand it straight back
          waiting = false;
          env.clearTimeout(timer);
          return new Promise<void>((release) => resolve(() => release()));
        })
        .catch(giveUp);
    } catch {
      giveUp();
    }
  });
}

interface LeaseRecord {
  owner: string;
  until: number;
}

/**
 * A mutex for pages without navigator.locks (plain http): a lease record taken by compare-and-set
 * in a readwrite transaction, which IndexedDB runs one at a time. A tab that dies holding it blocks
 * the others until it expires (`waitMs` plus a margin); a tab that cannot get it within twice that
 * goes on unlocked.
 */
function leaseMutex(idb: IDBFactory, leaseKey: string, env: Environment, waitMs: number): Promise<() => void> {
  const owner = `${env.now()}:${env.random()}`;
  const leaseMs = waitMs + 2000;
  const deadline = env.now() + 2 * leaseMs;
  const release = (): void => {
    transact(idb, env, "readwrite", (store) => {
      const request = store.get(leaseKey);
      request.onsuccess = () => {
        if ((request.result as LeaseRecord | undefined)?.owner === owner) store.delete(leaseKey);
      };
      return noop;
    }).catch(noop);
  };
  const attempt = async (): Promise<() => void> => {
    const taken = await transact(idb, env, "readwrite", (store) => {
      let won = false;
      const request = store.get(leaseKey);
      request.onsuccess = () => {
        const lease = request.result as LeaseRecord | undefined;
        const now = env.now();
        if (!lease || !(lease.until > now)) {
          store.put({ owner, until: now + leaseMs } satisfies LeaseRecord, leaseKey);
          won = true;
        }
      };
      return () => won;
    });
    if (taken) return release;
    if (env.now() >= deadline) return noop;
    await new Promise<void>((wake) => env.setTimeout(wake, 50 + env.random() * 100));
    return attempt();
  };
  return attempt().catch(() => noop);
}
