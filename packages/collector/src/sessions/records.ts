import type { SessionScope } from "@sessionlens/shared";

/**
 * The shape of session state, owned by the session model. The live objects (`Session`, `Page`)
 * implement these; persistence ports store and restore them; queries read them.
 */

/** One open page of a session. */
export interface PageRecord {
  readonly id: string;
  /** Page pathname the agent last reported. */
  path: string;
  /** Counter series of the page load (see the protocol's `epoch`). */
  epoch: number;
  /** Highest `seq` applied in the current epoch. */
  seq: number;
  /** Cumulative bytes of the current epoch (merged with max). */
  epochBytes: number;
  /** Bytes of the page's earlier epochs. */
  earlierBytes: number;
  /** When the page first connected. */
  openedAt: number;
  /** When its current (or last) socket connected. */
  connectedAt: number;
  /** When its socket dropped, or null while connected. */
  disconnectedAt: number | null;
}

/** Pages of a session by id: a `Map` fits, and so does the model's leaner one-page-inline map. */
export interface PageCollection<P extends PageRecord = PageRecord> {
  readonly size: number;
  get(id: string): P | undefined;
  has(id: string): boolean;
  keys(): IterableIterator<string>;
  values(): IterableIterator<P>;
}

/** A session: what is shown, persisted and restored. */
export interface SessionRecord {
  readonly id: string;
  readonly project: string;
  /** Creation time (ms since the epoch); survives restarts through the resume credential. */
  readonly createdAt: number;
  userAgent: string;
  clientAddress: string;
  scope: SessionScope;
  username: string;
  authorized: boolean;
  /** When the verified identity token expires (ms), or null. */
  tokenExpiresAt: number | null;
  lastCommAt: number;
  recentBytesSent: number;
  totalBytesSent: number;
  /** Bytes of the pages that already left; agents cannot resend them. */
  closedPagesBytes: number;
  /** Open pages by id (pages in their grace period included). */
  readonly pages: PageCollection;
  /**
   * Owned by `query/`: its cached serialisation of this session, checked against the session on
   * every use. Never persisted. A slot on the record rather than a side table: a list of 100,000
   * sessions reads it 100,000 times.
   */
  jsonCache?: object | null;
}

/** Why a session ended. */
export type SessionEndReason = "timeout" | "closed" | "ended";

/** Why a page left its session. */
export type PageEndReason = "bye" | "grace" | "closed" | "session-ended";

/** What is remembered of an ended session, so that it never comes back by resuming. */
export interface Tombstone {
  endedAt: number;
  reason: SessionEndReason;
}
