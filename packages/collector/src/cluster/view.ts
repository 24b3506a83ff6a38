import { systemScheduler, type Scheduler, type TimerHandle } from "../options.js";
import { Changed, SessionFeed, type ChangeSet, type FeedConsumer } from "../sessions/feed.js";
import type { PageCollection, SessionEndReason, SessionRecord } from "../sessions/records.js";
import { SessionIndex } from "../sessions/session-index.js";
import type { RedisPersistence } from "../store/redis.js";
import { addPage, mergeParts, pageBytes, type ClusterPageRecord, type MergedParts } from "../store/redis-codec.js";

/**
 * One session as the whole cluster holds it: this node's live record (if it holds pages of it)
 * joined with what the other nodes hold (read from Redis). Reads are computed from both, so a
 * heartbeat on this node changes the view without any copy or allocation.
 */
export class ClusterSession implements SessionRecord {
  /** This node's live record, or null. */
  local: SessionRecord | null = null;
  /** What the other nodes hold, or null when none does. */
  remote: MergedParts | null = null;
  /** The username the view's index has this session under. */
  indexedUsername: string | null = null;
  jsonCache: object | null = null;

  constructor(
    readonly id: string,
    private readonly nodeId: string,
    private readonly localIdentityAt: (id: string) => number,
  ) {}

  /** Whether any node holds anything of the session. */
  get exists(): boolean {
    return this.local !== null || (this.remote?.record ?? null) !== null;
  }

  /** The record whose identity is shown: the latest identity change wins. */
  #identity(): SessionRecord {
    const remote = this.remote?.record ?? null;
    if (this.local === null) return remote!;
    if (remote === null) return this.local;
    return this.remote!.identityChangedAt > this.localIdentityAt(this.id) ? remote : this.local;
  }

  /** The record that communicated last. */
  #latest(): SessionRecord {
    const remote = this.remote?.record ?? null;
    if (this.local === null) return remote!;
    if (remote === null) return this.local;
    return remote.lastCommAt > this.local.lastCommAt ? remote : this.local;
  }

  get project(): string {
    return this.local?.project ?? this.remote!.project;
  }

  get createdAt(): number {
    if (this.local === null) return this.remote!.createdAt;
    return this.remote === null ? this.local.createdAt : Math.min(this.local.createdAt, this.remote.createdAt);
  }

  get userAgent(): string {
    return (this.local ?? this.remote!.record!).userAgent;
  }

  get clientAddress(): string {
    return (this.local ?? this.remote!.record!).clientAddress;
  }

  get scope(): SessionRecord["scope"] {
    return (this.local ?? this.remote!.record!).scope;
  }

  get username(): string {
    return this.#identity().username;
  }

  get authorized(): boolean {
    return this.#identity().authorized;
  }

  get tokenExpiresAt(): number | null {
    return this.#identity().tokenExpiresAt;
  }

  get lastCommAt(): number {
    return this.#latest().lastCommAt;
  }

  get recentBytesSent(): number {
    return this.#latest().recentBytesSent;
  }

  get totalBytesSent(): number {
    return this.#bytes(this.local?.totalBytesSent ?? 0, this.remote?.record?.totalBytesSent ?? this.remote?.closedBytes ?? 0);
  }

  get closedPagesBytes(): number {
    return (this.local?.closedPagesBytes ?? 0) + (this.remote?.record?.closedPagesBytes ?? this.remote?.closedBytes ?? 0);
  }

  /** Local plus remote bytes, a page both claim (its agent moved here) counted once. */
  #bytes(local: number, remote: number): number {
    let total = local + remote;
    const remotePages = this.remote?.record?.pages;
    if (this.local !== null && remotePages !== undefined && remotePages.size > 0) {
      for (const page of remotePages.values()) {
        const mine = this.local.pages.get(page.id);
        if (mine !== undefined) total -= Math.min(pageBytes(mine), pageBytes(page));
      }
    }
    return total;
  }

  get pages(): PageCollection<ClusterPageRecord> {
    const pages = new Map<string, ClusterPageRecord>();
    if (this.local !== null) for (const page of this.local.pages.values()) addPage(pages, { ...page, node: this.nodeId });
    const remote = this.remote?.record;
    if (remote) for (const page of remote.pages.values()) addPage(pages, page);
    return pages;
  }
}

export interface ClusterViewOptions {
  store: RedisPersistence;
  /** The model's change feed: this node's changes. */
  localFeed: SessionFeed;
  /** Changes seen from other nodes are read from Redis at most this often, in one pipeline. Default `100`. */
  refreshMs?: number;
  /** Time source (end times of sessions that ended elsewhere). */
  now: () => number;
  /** Timers. Default: Node's, `unref()`'d. */
  scheduler?: Scheduler;
  log: (level: "warn" | "error" | "info", message: string, details?: Record<string, unknown>) => void;
}

/**
 * The cluster view every read of this node goes through when it shares sessions with other nodes
 * through Redis: a local replica of the whole cluster's sessions, kept current by the `changes`
 * channel (each node publishes the ids it wrote) and joined with this node's live sessions.
 * Queries stay synchronous and in memory (the index has the same username/project indexes as a
 * single node's), and the event stream sees other nodes' changes as they arrive.
 *
 * While Redis is unreachable the view is partial: this node's sessions are current, the others'
 * as last seen. When it returns, the view is read again in full.
 */
export class ClusterView implements FeedConsumer {
  /** Changes of the cluster view (for `query/`'s watches). */
  readonly feed: SessionFeed;
  /** The cluster's sessions, indexed by username and project. */
  readonly index = new SessionIndex<ClusterSession>();
  readonly #o: Required<ClusterViewOptions>;
  readonly #nodeId: string;
  /** Ids another node changed, with the end reason when it ended there. */
  readonly #dirty = new Map<string, SessionEndReason | null>();
  #timer: TimerHandle | null = null;
  #refreshing = false;
  #resync = false;
  /** A full read is under way (the view may still show what Redis no longer has). */
  #loading = false;
  #subscribed = false;
  #stopped = false;
  readonly #unsubscribeLocal: () => void;
  readonly #unsubscribeState: () => void;
  #unsubscribeResubscribed: () => void = () => {};

  constructor(options: ClusterViewOptions) {
    this.#o = { refreshMs: 100, scheduler: systemScheduler, ...options };
    this.#nodeId = options.store.nodeId;
    this.feed = new SessionFeed((message, error) => options.log("warn", message, { err: error }));
    this.#unsubscribeLocal = options.localFeed.subscribe(this);
    this.#unsubscribeState = options.store.onStateChange((reachable) => {
      if (reachable) this.#resync = true;
    });
  }

  /** Whether the view may miss or show stale sessions of other nodes (Redis unreachable). */
  get partial(): boolean {
    return !this.#o.store.reachable || !this.#subscribed || !this.#o.store.connection.subscribed || this.#resync || this.#loading;
  }

  /** Subscribes to the changes channel and reads the whole cluster once. */
  async start(): Promise<void> {
    const store = this.#o.store;
    await store.connection.subscribe(store.keys.changes, (message) => this.#heard(message));
    // Changes published while the subscriber was away were lost: read everything again.
    this.#unsubscribeResubscribed = store.connection.onResubscribed(() => (this.#resync = true));
    this.#subscribed = true;
    await this.#loadAll();
    this.#timer = this.#o.scheduler.setInterval(() => void this.#refresh(), this.#o.refreshMs);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.#o.scheduler.clear(this.#timer);
    this.#timer = null;
    this.#unsubscribeLocal();
    this.#unsubscribeState();
    this.#unsubscribeResubscribed();
  }

  /** @internal This node's feed: the local part of a session changed. Allocation-free for a known session. */
  upsert(session: SessionRecord, changed: ChangeSet, bytesRaised: number, pageId: string | null): void {
    let view = this.index.get(session.id);
    if (view === undefined) view = new ClusterSession(session.id, this.#nodeId, (id) => this.#o.store.identityChangedAt(id));
    view.local = session;
    this.#reindex(view);
    this.feed.upsert(view, changed, bytesRaised, pageId);
  }

  /** @internal This node let go of a session: it ends unless another node holds it. */
  remove(session: SessionRecord, reason: SessionEndReason, endedAt: number): void {
    const view = this.index.get(session.id);
    if (view === undefined || view.local !== session) return;
    if (view.remote?.record != null && reason !== "closed") {
      view.local = null;
      this.#reindex(view);
      this.feed.upsert(view, Changed.pageLeftBye, 0, null);
      return;
    }
    // Removed as it was last shown (a removed view is read, never changed).
    this.index.delete(view);
    this.feed.remove(view, reason, endedAt);
  }

  #reindex(view: ClusterSession): void {
    if (!view.exists) return;
    const username = view.username;
    if (view.indexedUsername === null || this.index.get(view.id) !== view) {
      view.indexedUsername = username;
      this.index.add(view);
    } else if (view.indexedUsername !== username) {
      const before = view.indexedUsername;
      view.indexedUsername = username;
      this.index.usernameChanged(view, before);
    }
  }

  /** A message of the changes channel: `id[ id...] \t node [\t reason]`. */
  #heard(message: string): void {
    const [ids, node, reason] = message.split("\t");
    if (ids === undefined || ids === "") return;
    // This node's own writes change nothing it does not already show.
    if (node === this.#nodeId && reason === undefined) return;
    for (const id of ids.split(" ")) {
      if (id === "") continue;
      const known = this.#dirty.get(id);
      this.#dirty.set(id, (reason as SessionEndReason | undefined) ?? known ?? null);
    }
  }

  async #refresh(): Promise<void> {
    if (this.#refreshing || this.#stopped) return;
    this.#refreshing = true;
    try {
      if (this.#resync) {
        this.#resync = false;
        this.#dirty.clear();
        await this.#loadAll();
        return;
      }
      if (this.#dirty.size === 0) return;
      const batch = Array.from(this.#dirty);
      this.#dirty.clear();
      const hashes = await this.#o.store.readHashes(batch.map(([id]) => id));
      batch.forEach(([id, reason], i) => this.#apply(id, hashes[i]!, reason));
    } catch (error) {
      this.#resync = true;
      this.#o.log("warn", "the cluster view could not be read from Redis; it is partial until Redis answers", { err: error });
    } finally {
      this.#refreshing = false;
    }
  }

  /** Reads every session of the cluster (at start and after Redis was unreachable). */
  async #loadAll(): Promise<void> {
    this.#loading = true;
    try {
      await this.#readAll();
    } finally {
      this.#loading = false;
    }
  }

  async #readAll(): Promise<void> {
    const seen = new Set<string>();
    for await (const ids of this.#o.store.scanIds()) {
      const hashes = await this.#o.store.readHashes(ids);
      ids.forEach((id, i) => {
        seen.add(id);
        this.#apply(id, hashes[i]!, null);
      });
    }
    // Sessions that ended elsewhere while this node could not hear it.
    for (const view of Array.from(this.index.values())) {
      // (Ids heard of meanwhile are read again right after.)
      if (!seen.has(view.id) && view.remote !== null && !this.#dirty.has(view.id)) this.#apply(view.id, {}, null);
    }
  }

  /** What Redis holds of a session now: join it to the view and tell the watchers. */
  #apply(id: string, fields: Record<string, string>, reason: SessionEndReason | null): void {
    const parts = mergeParts(id, fields, this.#nodeId);
    let view = this.index.get(id);
    if (view === undefined) {
      if (parts?.record == null) return;
      view = new ClusterSession(id, this.#nodeId, (sessionId) => this.#o.store.identityChangedAt(sessionId));
    }
    if (view.local === null && parts?.record == null) {
      // Nobody holds it any more. Left as it was shown (a removed view is read, never changed).
      if (this.index.get(id) === view) {
        this.index.delete(view);
        this.feed.remove(view, reason ?? "ended", this.#o.now());
      }
      return;
    }
    view.remote = parts;
    this.#reindex(view);
    this.feed.upsert(view, Changed.counters | Changed.identity, 0, null);
  }
}
