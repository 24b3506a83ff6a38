import type { SessionFilter, SessionInfo } from "@sessionlens/shared";
import type { Clock } from "../options.js";
import { Changed, type ChangeSet, type FeedConsumer, type SessionFeed } from "../sessions/feed.js";
import type { SessionEndReason, SessionRecord } from "../sessions/records.js";
import { matchesQuery, type SessionIndex, type SessionQuery } from "../sessions/session-index.js";
import type { UserAgentCache } from "../sessions/useragent.js";
import { compileQuery } from "./filter.js";
import { toSessionDetails, toSessionInfo, type SessionDetails } from "./info.js";
import { SessionJson, type ListFraming } from "./json.js";

/**
 * Called for each change a watch sees: `removed` is the end reason when the session ended, else
 * null. `session` is live: read it now.
 */
export type WatchListener = (session: SessionRecord, removed: SessionEndReason | null) => void;

/** Sessions and pages of one scope and project (for metrics). */
export interface SessionTally {
  scope: string;
  project: string;
  sessions: number;
  pages: number;
}

interface Watch {
  query: SessionQuery;
  onChange: WatchListener;
}

/**
 * The read side: every read of session state (the HTTP list and details, the event stream's
 * snapshot and updates, the metrics' counts, `getSessionInfo`) goes through here. It reads this
 * node's session index and watches the model's change feed.
 */
export class SessionQueries implements FeedConsumer {
  readonly #watches: Watch[] = [];
  readonly #json = new SessionJson();

  constructor(
    private readonly index: SessionIndex,
    feed: SessionFeed,
    private readonly clock: Clock,
    private readonly userAgents: UserAgentCache,
    /** True while answers may miss sessions of other nodes (several collectors, Redis unreachable). */
    readonly partial: () => boolean = () => false,
  ) {
    feed.subscribe(this);
  }

  /** Matching sessions (live objects: read them at once). */
  records(filter: SessionFilter): SessionRecord[] {
    return this.index.query(compileQuery(filter));
  }

  recordsFor(query: SessionQuery): SessionRecord[] {
    return this.index.query(query);
  }

  async getSessionInfo(filter: SessionFilter): Promise<SessionInfo[]> {
    const records = this.records(filter);
    const now = this.clock.now();
    return records.map((record) => toSessionInfo(record, now));
  }

  /**
   * `JSON.stringify(toSessionInfo(session, now))`, from text cached per session and rebuilt only
   * when its identity, pages or address change (counters and times are filled in per call).
   */
  sessionJson(session: SessionRecord, now: number): string {
    return this.#json.stringify(session, now);
  }

  /**
   * The sessions as one JSON list at `now` (a bare array unless `framing` says otherwise), in UTF-8
   * chunks of about 64 KiB built from the same cached parts: a big answer is never one string.
   * Give each chunk back with `releaseChunk()` once it is written.
   */
  sessionListChunks(records: readonly SessionRecord[], now: number, framing?: ListFraming): Generator<Buffer, void, undefined> {
    return this.#json.chunks(records, now, framing);
  }

  /** Takes back a chunk of `sessionListChunks()` once it is written (a socket write's callback), for reuse. */
  releaseChunk(chunk: Buffer): void {
    this.#json.release(chunk);
  }

  async getSession(id: string): Promise<SessionDetails | undefined> {
    const record = this.index.get(id);
    if (record === undefined) return undefined;
    return toSessionDetails(record, this.clock.now(), this.userAgents.parse(record.userAgent));
  }

  /** Whether `session` matches `query`. */
  matches(query: SessionQuery, session: SessionRecord): boolean {
    return matchesQuery(query, session);
  }

  /** Sessions and pages by scope and project. */
  tally(): SessionTally[] {
    // By scope, then project: no key string built per session (the stats sampler runs every 5 s).
    const byScope = new Map<string, Map<string, SessionTally>>();
    for (const session of this.index.values()) {
      let byProject = byScope.get(session.scope);
      if (byProject === undefined) byScope.set(session.scope, (byProject = new Map()));
      let tally = byProject.get(session.project);
      if (tally === undefined) byProject.set(session.project, (tally = { scope: session.scope, project: session.project, sessions: 0, pages: 0 }));
      tally.sessions++;
      tally.pages += session.pages.size;
    }
    const tallies: SessionTally[] = [];
    for (const byProject of byScope.values()) for (const tally of byProject.values()) tallies.push(tally);
    return tallies;
  }

  /**
   * Calls `onChange` for every change of a session that matches `query`, every change of identity
   * (a session may have left the query's view: compare with what you were shown), and every
   * removal. Coalescing is the watcher's business. Returns a function that stops the watch.
   */
  watch(query: SessionQuery, onChange: WatchListener): () => void {
    const watch: Watch = { query, onChange };
    this.#watches.push(watch);
    return () => {
      const index = this.#watches.indexOf(watch);
      if (index !== -1) this.#watches.splice(index, 1);
    };
  }

  /** @internal Feed consumer: free when nobody watches (the heartbeat path). */
  upsert(session: SessionRecord, changed: ChangeSet): void {
    // Anything but a counter rise may change the cached JSON text (one bit test on the heartbeat path).
    if ((changed & ~Changed.counters) !== 0) this.#json.invalidate(session);
    const watches = this.#watches;
    if (watches.length === 0) return;
    for (let i = 0; i < watches.length; i++) {
      const watch = watches[i]!;
      if ((changed & Changed.identity) !== 0 || matchesQuery(watch.query, session)) watch.onChange(session, null);
    }
  }

  /** @internal Feed consumer. */
  remove(session: SessionRecord, reason: SessionEndReason): void {
    this.#json.invalidate(session);
    const watches = this.#watches;
    for (let i = 0; i < watches.length; i++) watches[i]!.onChange(session, reason);
  }
}

export { SessionTotals } from "./stats.js";
export { compileFieldMatcher, compileQuery, MATCH_ALL, normaliseFilter } from "./filter.js";
export { toSessionInfo, toSessionDetails } from "./info.js";
export type { SessionDetails, PageDetails } from "./info.js";
export type { SessionQuery, FieldMatcher } from "../sessions/session-index.js";
export type { SessionEndReason, SessionRecord } from "../sessions/records.js";
export { CommandError } from "../sessions/model.js";
