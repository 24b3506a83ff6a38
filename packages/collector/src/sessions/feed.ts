import type { PageEndReason, SessionEndReason, SessionRecord } from "./records.js";

/**
 * What an upsert changed: bits of a `ChangeSet`. A consumer tests the bits it cares about
 * (`(changed & Changed.identity) !== 0`).
 */
export const Changed = {
  /** The session is new: started, or recreated from a resume credential. */
  created: 1 << 0,
  /** Loaded from the persistence port at start (with `created`). */
  restored: 1 << 1,
  /** Bytes rose (`bytesRaised` says by how much) or `recentBytesSent` changed. */
  counters: 1 << 2,
  /** A page reported another path. */
  path: 1 << 3,
  /** A page joined (`pageId` names it). */
  pageOpened: 1 << 4,
  /** A page left by saying bye or closing its socket cleanly (`pageId` names it). */
  pageLeftBye: 1 << 5,
  /** A page left after its grace period (`pageId` names it). */
  pageLeftGrace: 1 << 6,
  /** A page was closed by command (`pageId` names it). */
  pageLeftClosed: 1 << 7,
  /** A page's socket dropped: its grace period started. */
  pageDisconnected: 1 << 8,
  /** A page's socket connected (a hello: a new page, or one that reconnected). */
  pageConnected: 1 << 12,
  /** Username, `authorized` or the verified token's expiry changed. */
  identity: 1 << 9,
  /** A verified identity was taken up (with `identity`). */
  login: 1 << 10,
  /** The identity was dropped: logout or a refused token (with `identity`). */
  logout: 1 << 11,
} as const;

/** A set of `Changed` bits. */
export type ChangeSet = number;

/** Any page-left bit. */
export const PAGE_LEFT = Changed.pageLeftBye | Changed.pageLeftGrace | Changed.pageLeftClosed;

/** Changes a persistence port must `put` (everything but counters and connection state). */
export const STRUCTURAL =
  Changed.created | Changed.restored | Changed.path | Changed.pageOpened | Changed.pageConnected | PAGE_LEFT | Changed.identity;

/** The page-end reason an upsert's page-left bit stands for, or null. */
export function pageEndReasonOf(changed: ChangeSet): PageEndReason | null {
  if ((changed & Changed.pageLeftBye) !== 0) return "bye";
  if ((changed & Changed.pageLeftGrace) !== 0) return "grace";
  if ((changed & Changed.pageLeftClosed) !== 0) return "closed";
  return null;
}

/**
 * A consumer of the change feed. Called synchronously, once per change, after the change is
 * complete: it must be cheap, must not re-enter the model, and must not throw (a throw is
 * reported and ignored). `session` is the model's live object: read it now or keep the reference.
 */
export interface FeedConsumer {
  /**
   * A session was created or changed. `bytesRaised`: how much `totalBytesSent` rose (0 if it did
   * not). `pageId`: the page that opened or left, else null.
   */
  upsert(session: SessionRecord, changed: ChangeSet, bytesRaised: number, pageId: string | null): void;
  /**
   * A session ended at `endedAt`. Its pages are still attached (the model detaches them right
   * after), so a consumer can tell which pages ended with it.
   */
  remove(session: SessionRecord, reason: SessionEndReason, endedAt: number): void;
}

/**
 * The one change feed of the session model: every change of session state is published here
 * once, and the lifecycle hooks, the persistence port, the event stream (through
 * `query/`'s `watch`) and the metrics consume it. Publishing allocates nothing.
 */
export class SessionFeed {
  readonly #consumers: FeedConsumer[] = [];
  readonly #report: (message: string, error: unknown) => void;

  constructor(report: (message: string, error: unknown) => void = () => {}) {
    this.#report = report;
  }

  /** Adds a consumer; returns a function that removes it. */
  subscribe(consumer: FeedConsumer): () => void {
    this.#consumers.push(consumer);
    return () => {
      const index = this.#consumers.indexOf(consumer);
      if (index !== -1) this.#consumers.splice(index, 1);
    };
  }

  upsert(session: SessionRecord, changed: ChangeSet, bytesRaised: number, pageId: string | null): void {
    const consumers = this.#consumers;
    for (let i = 0; i < consumers.length; i++) {
      try {
        consumers[i]!.upsert(session, changed, bytesRaised, pageId);
      } catch (error) {
        this.#report("a change-feed consumer threw on an upsert", error);
      }
    }
  }

  remove(session: SessionRecord, reason: SessionEndReason, endedAt: number): void {
    const consumers = this.#consumers;
    for (let i = 0; i < consumers.length; i++) {
      try {
        consumers[i]!.remove(session, reason, endedAt);
      } catch (error) {
        this.#report("a change-feed consumer threw on a remove", error);
      }
    }
  }
}
