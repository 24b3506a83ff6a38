/**
 * In-process fakes of the browser's cross-tab storage, shared by the "tabs" of one fake profile:
 * a LockManager with FIFO exclusive locks, an IndexedDB that runs one transaction at a time and
 * auto-commits like the real one, and a localStorage. Each can be made to fail the ways browsers do.
 */

type Callback = (() => void) | null;

export class FakeLocks {
  private held = new Set<string>();
  private queues = new Map<string, (() => void)[]>();
  failure: "none" | "reject" = "none";
  requests = 0;

  isHeld(name: string): boolean {
    return this.held.has(name);
  }

  request = (name: string, callback: (lock: unknown) => unknown): Promise<unknown> => {
    this.requests++;
    if (this.failure === "reject") return Promise.reject(new DOMException("denied", "SecurityError"));
    return new Promise((resolve, reject) => {
      const release = (): void => {
        this.held.delete(name);
        this.queues.get(name)?.shift()?.();
      };
      const run = (): void => {
        this.held.add(name);
        Promise.resolve()
          .then(() => callback({ name, mode: "exclusive" }))
          .then(
            (value) => (release(), resolve(value)),
            (error: unknown) => (release(), reject(error)),
          );
      };
      const queue = this.queues.get(name) ?? [];
      this.queues.set(name, queue);
      if (this.held.has(name) || queue.length > 0) queue.push(run);
      else run();
    });
  };
}

interface Operation {
  run(): void;
  request: { result: unknown; onsuccess: Callback };
}

interface FakeTransaction {
  operations: Operation[];
  oncomplete: Callback;
  onerror: Callback;
  onabort: Callback;
  error: unknown;
  objectStore(): unknown;
}

export class FakeIndexedDB {
  readonly data = new Map<string, unknown>();
  /** "open-error": open fires onerror; "hang": open never answers; "throw": open throws. */
  failure: "none" | "open-error" | "hang" | "throw" = "none";
  transactions = 0;
  private created = false;
  private busy = false;
  private queue: FakeTransaction[] = [];

  readonly factory = {
    open: (): unknown => {
      if (this.failure === "throw") throw new DOMException("denied", "SecurityError");
      const request = {
        result: undefined as unknown,
        error: null as unknown,
        onsuccess: null as Callback,
        onerror: null as Callback,
        onupgradeneeded: null as Callback,
      };
      if (this.failure === "hang") return request;
      setImmediate(() => {
        if (this.failure === "open-error") {
          request.error = new DOMException("denied", "UnknownError");
          request.onerror?.();
          return;
        }
        request.result = this.connection();
        if (!this.created) {
          this.created = true;
          request.onupgradeneeded?.();
        }
        request.onsuccess?.();
      });
      return request;
    },
  };

  private connection(): unknown {
    return {
      createObjectStore: () => undefined,
      close: () => undefined,
      transaction: () => {
        this.transactions++;
        const transaction: FakeTransaction = {
          operations: [],
          oncomplete: null,
          onerror: null,
          onabort: null,
          error: null,
          objectStore: () => ({
            get: (key: string) => this.operation(transaction, (request) => (request.result = clone(this.data.get(key)))),
            put: (value: unknown, key: string) => this.operation(transaction, () => this.data.set(key, clone(value))),
            delete: (key: string) => this.operation(transaction, () => this.data.delete(key)),
          }),
        };
        // Like IndexedDB: the transaction starts after the code that created it has queued its requests.
        queueMicrotask(() => {
          this.queue.push(transaction);
          this.next();
        });
        return transaction;
      },
    };
  }

  private operation(transaction: FakeTransaction, run: (request: Operation["request"]) => void): unknown {
    const request = { result: undefined as unknown, onsuccess: null as Callback };
    transaction.operations.push({ run: () => run(request), request });
    return request;
  }

  /** One transaction at a time, across every connection: a readwrite transaction is a critical section. */
  private next(): void {
    if (this.busy) return;
    const transaction = this.queue.shift();
    if (!transaction) return;
    this.busy = true;
    setImmediate(() => {
      for (let operation = transaction.operations.shift(); operation; operation = transaction.operations.shift()) {
        operation.run();
        operation.request.onsuccess?.();
      }
      transaction.oncomplete?.();
      this.busy = false;
      this.next();
    });
  }
}

function clone<T>(value: T): T {
  return value === undefined ? value : structuredClone(value);
}

export class FakeLocalStorage {
  readonly data = new Map<string, string>();
  getItem(key: string): string | null {
    return this.data.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.data.set(key, String(value));
  }
  removeItem(key: string): void {
    this.data.delete(key);
  }
}

/** One fake browser profile: what its tabs share. */
export interface FakeProfile {
  locks?: FakeLocks | "throw";
  indexedDB?: FakeIndexedDB | "throw";
  localStorage?: FakeLocalStorage | "throw";
}

/** The storage-related parts of a window of `profile`; "throw" makes the getter throw, as in sandboxed iframes. */
export function storageWindow(profile: FakeProfile, target: Record<string, unknown> = {}): Record<string, unknown> {
  const navigator = (target["navigator"] ?? {}) as Record<string, unknown>;
  target["navigator"] = navigator;
  const define = (object: Record<string, unknown>, key: string, value: unknown): void => {
    if (value === undefined) return;
    Object.defineProperty(object, key, {
      configurable: true,
      get: () => {
        if (value === "throw") throw new DOMException("The operation is insecure.", "SecurityError");
        return value instanceof FakeIndexedDB ? value.factory : value;
      },
    });
  };
  define(navigator, "locks", profile.locks);
  define(target, "indexedDB", profile.indexedDB);
  define(target, "localStorage", profile.localStorage);
  return target;
}
