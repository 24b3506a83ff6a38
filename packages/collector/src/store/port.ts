import type { SessionRecord, Tombstone } from "../sessions/records.js";

/** What a persistence port kept from an earlier run. */
export interface RestoredState {
  sessions: SessionRecord[];
}

/**
 * Where session state is kept beyond this process: the port the session model writes through (it
 * is a consumer of the model's change feed) and reads back at start. Reads of live sessions never
 * come here: they go to the model's session index.
 *
 * A backend extends this class and overrides what it needs; every default does nothing, so no
 * caller ever probes for a method. Every method but `countersChanged` returns a Promise, so a
 * networked backend (Redis) fits the same shape as the embedded one.
 */
export class SessionPersistence {
  /** Opens the backend and returns what it kept from an earlier run. Default: nothing kept. */
  async open(): Promise<RestoredState> {
    return { sessions: [] };
  }

  /**
   * Records a new session or a structural change of one (identity, pages, path, closed bytes).
   * `record` is the model's live object: read what you need now, or keep the reference and read
   * it later (it stays current until the session ends).
   */
  async put(_record: SessionRecord): Promise<void> {}

  /** Forgets a session and remembers it as ended. */
  async end(_id: string, _tombstone: Tombstone): Promise<void> {}

  /** The tombstone of an ended session, if it is still remembered. */
  async getTombstone(_id: string): Promise<Tombstone | undefined> {
    return undefined;
  }

  /**
   * A session's counters (bytes, page epochs, `lastCommAt`) rose in place. Called from the heartbeat
   * hot path: synchronous and cheap, no I/O and no allocation beyond remembering the session once.
   */
  countersChanged(_record: SessionRecord): void {}

  /** Bounded housekeeping (forget expired tombstones a batch at a time), called by the sweep. */
  async prune(): Promise<void> {}

  /**
   * The latest end time among tombstones forgotten early (evicted by a cap, not expired), or 0. A
   * credential issued at or before it may name an ended session whose tombstone is gone, so it
   * must not recreate a session.
   */
  async tombstoneFloor(): Promise<number> {
    return 0;
  }

  /** Resolves while the backend is reachable; rejects otherwise (readiness). */
  async ping(): Promise<void> {}

  /** Writes everything pending to durable storage. */
  async flush(): Promise<void> {}

  /** Flushes and releases resources. */
  async close(): Promise<void> {}
}
