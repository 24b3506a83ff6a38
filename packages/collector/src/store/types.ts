export type { PageCollection, PageRecord, SessionEndReason, SessionRecord, Tombstone } from "../sessions/records.js";
import type { SessionRecord, Tombstone } from "../sessions/records.js";

/** A matcher for one filtered field, compiled by the query layer. */
export interface FieldMatcher {
  /** Matches every value (filter missing, empty or `*`). */
  readonly any: boolean;
  /** The exact value to look up when the filter has no wildcard, else null. */
  readonly exact: string | null;
  test(value: string): boolean;
}

export interface StoreQuery {
  username: FieldMatcher;
  project: FieldMatcher;
}

/** What a store kept from an earlier run. */
export interface RestoredState {
  sessions: SessionRecord[];
}

/**
 * Where sessions live. Every method returns a Promise, so a networked backend (Redis) fits the
 * same interface as the embedded one.
 */
export interface SessionStore {
  /** Opens the store and returns what it kept from an earlier run. */
  open(): Promise<RestoredState>;
  /** Inserts a session or records a structural change of it (identity, pages, closed bytes). */
  put(session: SessionRecord): Promise<void>;
  get(id: string): Promise<SessionRecord | undefined>;
  /** Removes a session and remembers it as ended. */
  end(id: string, tombstone: Tombstone): Promise<void>;
  /** The tombstone of an ended session, if it is still remembered. */
  getTombstone(id: string): Promise<Tombstone | undefined>;
  /** Sessions matching both fields; costs in proportion to the matches when a field is exact. */
  query(query: StoreQuery): Promise<SessionRecord[]>;
  count(): Promise<number>;
  /** Resolves while the store is reachable; rejects otherwise (readiness). */
  ping(): Promise<void>;
  /** Writes everything pending to durable storage. */
  flush(): Promise<void>;
  /**
   * Optional. Synchronous and cheap: called from the heartbeat hot path when a held session's
   * counters (bytes, page epochs) rose in place. A durable store that holds the model's own objects
   * notes the session for its next counters write; it must not allocate (beyond remembering the
   * session once) or do I/O here. Path changes are structural: they come through `put`.
   */
  countersChanged?(session: SessionRecord): void;
  /**
   * Optional. Bounded housekeeping (forget expired tombstones, a batch at a time), called from the
   * collector's lifecycle sweep. Stores whose backend expires entries itself need not have it.
   */
  prune?(): Promise<void>;
  /**
   * Optional. The latest end time among tombstones the store forgot early (evicted by a cap, not
   * expired), or 0. A credential issued at or before it may belong to an ended session whose
   * tombstone is gone, so it must not recreate a session.
   */
  tombstoneFloor?(): Promise<number>;
  /** Flushes and releases resources. */
  close(): Promise<void>;
}
