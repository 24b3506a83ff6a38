import { systemScheduler, type Scheduler, type TimerHandle } from "../options.js";
import type { SessionRecord, Tombstone } from "../sessions/records.js";
import { SessionPersistence, type RestoredState } from "./port.js";
import { mergeSession, recordOfContribution, encodeContribution, type ClusterSessionRecord } from "./redis-codec.js";
import { createRedisConnection, type RedisConnection } from "./redis-connection.js";
import { RedisKeys, shardOf, SHARDS } from "./redis-keys.js";
import { COUNTERS_SCRIPT, END_SCRIPT, PUT_SCRIPT, REAP_SCRIPT } from "./redis-scripts.js";

export const DEFAULT_REDIS_PREFIX = "sessionlens:";

/** Sessions per counters script call. */
const COUNTERS_BATCH = 500;

export interface RedisStoreOptions {
  /** `redis://host:6379` (or `redis+cluster://host:port` for a Redis Cluster). */
  url: string;
  /** Treat `url` as a node of a Redis Cluster. Default `false` (true for `redis+cluster://`). */
  cluster?: boolean;
  /** Every key starts with it. Default `"sessionlens:"`. */
  prefix?: string;
  /** This collector's name in the cluster; pages it holds are shown with it. Required. */
  nodeId: string;
  /** Counter changes (bytes, `lastComm`) are written at most this often, in pipelines. Default `1_000`. */
  flushIntervalMs?: number;
  /** The node's lease lives this long unless renewed (renewed every third of it). Default `5_000`. */
  leaseTtlMs?: number;
  /** A dead node's pages leave this long after its last communication. Default `15_000`. */
  pageGraceMs?: number;
  /** A dead node's sessions with no page elsewhere end this long after their pages left. Default `60_000`. */
  sessionTimeoutMs?: number;
  /** Ended sessions are remembered this long. Default 7 days. */
  tombstoneTtlMs?: number;
  /** A Redis command fails after this long without an answer. Default `2_000`. */
  commandTimeoutMs?: number;
  /** Time source. Default `Date.now`. */
  now?: () => number;
  /** Timers (the flush and the lease). Default: Node's, `unref()`'d. */
  scheduler?: Scheduler;
  /** Told about problems (Redis unreachable, a failed write), once per outage. Default: ignored. */
  onWarning?: (message: string, error?: unknown) => void;
  /** An existing connection (tests); the store then does not close it. */
  connection?: RedisConnection;
}

/** A query over the cluster view: both fields, each either any value, one exact value, or a test. */
export interface ClusterQuery {
  username: { readonly any: boolean; readonly exact: string | null; test(value: string): boolean };
  project: { readonly any: boolean; readonly exact: string | null; test(value: string): boolean };
}

interface IdentityMark {
  username: string;
  authorized: boolean;
  changedAt: number;
}

/**
 * The Redis persistence port: what this node holds of each session is written to Redis as the
 * node's contribution (a field of the session's hash that only this node writes), so several
 * collectors share one truth — the cluster view is the union of the contributions.
 *
 * Structural changes (`put`) are written at once; counter changes (bytes, `lastComm`) are noted in
 * a set and written about once a second in one pipeline, only for sessions that changed. While
 * Redis is unreachable nothing queues up: writes fail fast, the sessions stay marked, and when
 * Redis returns everything this node holds is written again. The node keeps a lease key with a
 * TTL; survivors age out the pages of a node whose lease is gone.
 */
export class RedisPersistence extends SessionPersistence {
  readonly keys: RedisKeys;
  readonly nodeId: string;
  readonly #o: Required<Omit<RedisStoreOptions, "connection" | "cluster" | "scheduler">>;
  readonly #scheduler: Scheduler;
  readonly #stateListeners = new Set<(reachable: boolean) => void>();
  readonly #connection: RedisConnection;
  readonly #ownsConnection: boolean;
  /** Sessions this node holds (the model's live records). */
  readonly #held = new Map<string, SessionRecord>();
  /** Held sessions whose counters changed since they were last written. */
  readonly #dirty = new Set<SessionRecord>();
  /** Held sessions whose structural change (`put`) did not reach Redis. */
  readonly #unsaved = new Set<SessionRecord>();
  /** Ends being written now (a flush waits for them: "closed" is answered once the tombstone is stored). */
  readonly #endsInFlight = new Set<Promise<void>>();
  /** Ends that could not be written yet. */
  readonly #pendingEnds = new Map<string, { tombstone: Tombstone; contribution: string }>();
  readonly #identity = new Map<string, IdentityMark>();
  #flushTimer: TimerHandle | null = null;
  #leaseTimer: TimerHandle | null = null;
  #flushing: Promise<void> | null = null;
  #reaping = false;
  #reachable = true;
  #opened = false;
  /** Exposed for tests and metrics: how many session writes (put or flushed) reached Redis. */
  readonly writes = { sessions: 0, flushes: 0 };

  constructor(options: RedisStoreOptions) {
    super();
    if (!options.nodeId) throw new TypeError("the Redis store needs a nodeId");
    this.nodeId = options.nodeId;
    this.keys = new RedisKeys(options.prefix ?? DEFAULT_REDIS_PREFIX);
    this.#o = {
      url: options.url,
      prefix: this.keys.prefix,
      nodeId: options.nodeId,
      flushIntervalMs: options.flushIntervalMs ?? 1_000,
      leaseTtlMs: options.leaseTtlMs ?? 5_000,
      pageGraceMs: options.pageGraceMs ?? 15_000,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 60_000,
      tombstoneTtlMs: options.tombstoneTtlMs ?? 7 * 24 * 3_600_000,
      commandTimeoutMs: options.commandTimeoutMs ?? 2_000,
      now: options.now ?? Date.now,
      onWarning: options.onWarning ?? (() => {}),
    };
    this.#scheduler = options.scheduler ?? systemScheduler;
    this.#ownsConnection = options.connection === undefined;
    this.#connection =
      options.connection ??
      createRedisConnection({
        url: options.url,
        cluster: options.cluster,
        commandTimeoutMs: this.#o.commandTimeoutMs,
        onState: (ready, error) => (ready ? this.#back() : this.#lost(error)),
      });
  }

  /** The connection, for the cluster view and the command channel. */
  get connection(): RedisConnection {
    return this.#connection;
  }

  /** Whether the last write or ping reached Redis. */
  get reachable(): boolean {
    return this.#reachable;
  }

  /**
   * Calls `listener(false)` when Redis stops answering and `listener(true)` once it answers again
   * and everything this node holds was written again. Returns a function that removes it.
   */
  onStateChange(listener: (reachable: boolean) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /** When this node last changed the identity of a session it holds (0: never). */
  identityChangedAt(id: string): number {
    return this.#identity.get(id)?.changedAt ?? 0;
  }

  override async open(): Promise<RestoredState> {
    if (this.#ownsConnection) await this.#connection.connect();
    this.#opened = true;
    await this.#renewLease();
    const sessions: SessionRecord[] = [];
    for (let shard = 0; shard < SHARDS; shard++) {
      const ids = await this.#connection.command<string[]>(this.keys.byNode(shard, this.nodeId), ["SMEMBERS", this.keys.byNode(shard, this.nodeId)]);
      const hashes = await Promise.all(ids.map((id) => this.#hash(id)));
      ids.forEach((id, i) => {
        const record = recordOfContribution(id, hashes[i]!, this.nodeId);
        if (record !== null) sessions.push(record);
      });
    }
    this.#flushTimer = this.#scheduler.setInterval(() => void this.flush().catch(() => {}), this.#o.flushIntervalMs);
    this.#leaseTimer = this.#scheduler.setInterval(() => void this.#leaseTick(), Math.max(100, Math.floor(this.#o.leaseTtlMs / 3)));
    return { sessions };
  }

  override async put(record: SessionRecord): Promise<void> {
    this.#held.set(record.id, record);
    this.#noteIdentity(record);
    this.#dirty.delete(record);
    this.#unsaved.delete(record);
    try {
      await this.#write(record);
    } catch (error) {
      this.#unsaved.add(record);
      this.#lost(error);
    }
  }

  override countersChanged(record: SessionRecord): void {
    this.#dirty.add(record);
  }

  override async end(id: string, tombstone: Tombstone): Promise<void> {
    const record = this.#held.get(id);
    this.#held.delete(id);
    this.#identity.delete(id);
    if (record !== undefined) {
      this.#dirty.delete(record);
      this.#unsaved.delete(record);
    }
    const contribution = record === undefined ? "" : encodeContribution(record, 0, this.#o.now());
    const writing = this.#end(id, tombstone, contribution).catch((error: unknown) => {
      this.#pendingEnds.set(id, { tombstone, contribution });
      this.#lost(error);
    });
    this.#endsInFlight.add(writing);
    try {
      await writing;
    } finally {
      this.#endsInFlight.delete(writing);
    }
  }

  override async getTombstone(id: string): Promise<Tombstone | undefined> {
    const key = this.keys.tombstone(id);
    const raw = await this.#connection.command<string | null>(key, ["GET", key]);
    if (raw === null) return undefined;
    const parsed = JSON.parse(raw) as Tombstone;
    return { endedAt: parsed.endedAt, reason: parsed.reason };
  }

  override async ping(): Promise<void> {
    try {
      await this.#connection.command(undefined, ["PING"]);
    } catch (error) {
      this.#lost(error);
      throw error;
    }
  }

  /** Writes every pending change (counters, structural changes and ends that failed) now. */
  override async flush(): Promise<void> {
    if (!this.#opened) return;
    if (this.#endsInFlight.size > 0) await Promise.all(this.#endsInFlight);
    if (this.#flushing !== null) return this.#flushing;
    this.#flushing = this.#flushPending().finally(() => (this.#flushing = null));
    return this.#flushing;
  }

  override async close(): Promise<void> {
    if (this.#flushTimer !== null) this.#scheduler.clear(this.#flushTimer);
    if (this.#leaseTimer !== null) this.#scheduler.clear(this.#leaseTimer);
    this.#flushTimer = this.#leaseTimer = null;
    if (this.#opened) {
      await this.flush().catch(() => {});
      // The lease goes: survivors age out what this node held unless it is back within the page grace.
      await this.#connection.command(this.keys.lease(this.nodeId), ["DEL", this.keys.lease(this.nodeId)]).catch(() => {});
    }
    this.#opened = false;
    if (this.#ownsConnection) await this.#connection.close();
  }

  // ------------------------------------------------------------------------------------------
  // the cluster view

  /** One session as the whole cluster holds it, or undefined. */
  async readSession(id: string): Promise<ClusterSessionRecord | undefined> {
    return mergeSession(id, await this.#hash(id)) ?? undefined;
  }

  /** Sessions of the cluster by ids (missing ones are left out), read in one pipeline. */
  async readSessions(ids: readonly string[]): Promise<ClusterSessionRecord[]> {
    const hashes = await Promise.all(ids.map((id) => this.#hash(id)));
    const sessions: ClusterSessionRecord[] = [];
    ids.forEach((id, i) => {
      const session = mergeSession(id, hashes[i]!);
      if (session !== null) sessions.push(session);
    });
    return sessions;
  }

  /**
   * Ids of the cluster's sessions that may match: from the username or project index of every
   * shard when a field is exact (a constant number of commands plus the matches), else every id.
   */
  async queryIds(query: ClusterQuery): Promise<string[]> {
    const lists = await Promise.all(
      Array.from({ length: SHARDS }, (_, shard) => {
        const key =
          query.username.exact !== null
            ? this.keys.byUsername(shard, query.username.exact)
            : query.project.exact !== null
              ? this.keys.byProject(shard, query.project.exact)
              : this.keys.all(shard);
        return this.#connection.command<string[]>(key, ["SMEMBERS", key]);
      }),
    );
    return lists.flat();
  }

  /** Sessions of the whole cluster matching both fields. */
  async query(query: ClusterQuery): Promise<ClusterSessionRecord[]> {
    const sessions = await this.readSessions(await this.queryIds(query));
    return sessions.filter((session) => query.username.test(session.username) && query.project.test(session.project));
  }

  /** How many sessions the cluster has. */
  async count(): Promise<number> {
    const counts = await Promise.all(
      Array.from({ length: SHARDS }, (_, shard) => this.#connection.command<number>(this.keys.all(shard), ["SCARD", this.keys.all(shard)])),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }

  // ------------------------------------------------------------------------------------------

  /** The raw hashes of sessions (empty objects for missing ones), read in one pipeline. */
  readHashes(ids: readonly string[]): Promise<Record<string, string>[]> {
    return Promise.all(ids.map((id) => this.#hash(id)));
  }

  /** Every session id of the cluster, a batch at a time (SSCAN of each shard). */
  async *scanIds(batch = 500): AsyncGenerator<string[]> {
    for (let shard = 0; shard < SHARDS; shard++) {
      const key = this.keys.all(shard);
      let cursor = "0";
      do {
        const [next, ids] = await this.#connection.command<[string, string[]]>(key, ["SSCAN", key, cursor, "COUNT", String(batch)]);
        cursor = String(next);
        if (ids.length > 0) yield ids;
      } while (cursor !== "0");
    }
  }

  async #hash(id: string): Promise<Record<string, string>> {
    const key = this.keys.session(id);
    const reply = await this.#connection.command<Record<string, string> | string[]>(key, ["HGETALL", key]);
    if (!Array.isArray(reply)) return reply;
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) fields[reply[i]!] = reply[i + 1]!;
    return fields;
  }

  #noteIdentity(record: SessionRecord): void {
    const mark = this.#identity.get(record.id);
    if (mark === undefined) {
      // A session that starts signed in (or comes back from a restart) has its identity from now.
      const changedAt = record.username === "Unauthenticated" && !record.authorized ? 0 : this.#o.now();
      this.#identity.set(record.id, { username: record.username, authorized: record.authorized, changedAt });
    } else if (mark.username !== record.username || mark.authorized !== record.authorized) {
      mark.username = record.username;
      mark.authorized = record.authorized;
      mark.changedAt = this.#o.now();
    }
  }

  async #write(record: SessionRecord): Promise<void> {
    const now = this.#o.now();
    const mark = this.#identity.get(record.id);
    const written = await this.#connection.script<number>(
      PUT_SCRIPT,
      [this.keys.session(record.id)],
      [this.keys.shardOfId(record.id), record.id, this.nodeId, record.project, record.createdAt, encodeContribution(record, mark?.changedAt ?? 0, now), this.keys.changes],
    );
    this.writes.sessions++;
    this.#reached();
    if (written === 0) {
      // Ended on another node (closed by command there): this node lets go of it too.
      this.#held.delete(record.id);
    }
  }

  async #end(id: string, tombstone: Tombstone, contribution: string): Promise<void> {
    await this.#connection.script(
      END_SCRIPT,
      [this.keys.session(id)],
      [this.keys.shardOfId(id), id, this.nodeId, tombstone.endedAt, tombstone.reason, this.#o.tombstoneTtlMs, this.keys.changes, contribution],
    );
    this.#reached();
  }

  async #flushPending(): Promise<void> {
    const unsaved = Array.from(this.#unsaved);
    const counters = Array.from(this.#dirty).filter((record) => !this.#unsaved.has(record));
    const ends = Array.from(this.#pendingEnds);
    if (unsaved.length === 0 && counters.length === 0 && ends.length === 0) return;
    this.#unsaved.clear();
    this.#dirty.clear();
    this.#pendingEnds.clear();
    // Counter changes: one script call per shard. Issued together: the client pipelines them.
    const byShard = new Map<number, SessionRecord[]>();
    for (const record of counters) {
      if (this.#held.get(record.id) !== record) continue;
      const shard = shardOf(record.id);
      let list = byShard.get(shard);
      if (list === undefined) byShard.set(shard, (list = []));
      list.push(record);
    }
    // A script blocks Redis while it runs: at most a few hundred sessions per call.
    const batches: [number, SessionRecord[]][] = [];
    for (const [shard, records] of byShard) {
      for (let i = 0; i < records.length; i += COUNTERS_BATCH) batches.push([shard, records.slice(i, i + COUNTERS_BATCH)]);
    }
    const now = this.#o.now();
    const shardWrites = batches.map(([shard, records]) => {
      const args: (string | number)[] = [this.keys.shard(shard), this.nodeId, this.keys.changes];
      for (const record of records) args.push(record.id, encodeContribution(record, this.#identity.get(record.id)?.changedAt ?? 0, now));
      return this.#connection.script<string[]>(COUNTERS_SCRIPT, [this.keys.all(shard)], args).then((skipped) => {
        this.writes.sessions += records.length - skipped.length;
        // Not stored yet (its put failed or is in flight): write it in full next time.
        for (const id of skipped) {
          const record = this.#held.get(id);
          if (record !== undefined) this.#unsaved.add(record);
        }
      });
    });
    const shardLists = batches.map(([, records]) => records);
    const results = await Promise.allSettled([
      ...shardWrites,
      ...unsaved.map((record) => (this.#held.get(record.id) === record ? this.#write(record) : Promise.resolve())),
      ...ends.map(([id, pending]) => this.#end(id, pending.tombstone, pending.contribution)),
    ]);
    this.writes.flushes++;
    let failure: unknown = null;
    results.forEach((result, i) => {
      if (result.status === "fulfilled") return;
      failure = result.reason;
      if (i < shardWrites.length) for (const record of shardLists[i]!) this.#dirty.add(record);
      else if (i < shardWrites.length + unsaved.length) this.#unsaved.add(unsaved[i - shardWrites.length]!);
      else {
        const [id, pending] = ends[i - shardWrites.length - unsaved.length]!;
        this.#pendingEnds.set(id, pending);
      }
    });
    if (failure !== null) {
      this.#lost(failure);
      throw failure;
    }
  }

  async #renewLease(): Promise<void> {
    const lease = this.keys.lease(this.nodeId);
    await this.#connection.command(lease, ["SET", lease, String(this.#o.now()), "PX", String(this.#o.leaseTtlMs)]);
    await this.#connection.command(this.keys.nodes, ["SADD", this.keys.nodes, this.nodeId]);
  }

  async #leaseTick(): Promise<void> {
    try {
      await this.#renewLease();
      this.#reached();
    } catch (error) {
      this.#lost(error);
      return;
    }
    if (this.#reaping) return;
    this.#reaping = true;
    try {
      await this.reapDeadNodes();
    } catch (error) {
      this.#o.onWarning("the Redis store could not age out a dead node's pages", error);
    } finally {
      this.#reaping = false;
    }
  }

  /** Ages out what nodes without a lease held (run by every live node; the scripts are idempotent). */
  async reapDeadNodes(): Promise<void> {
    const nodes = await this.#connection.command<string[]>(this.keys.nodes, ["SMEMBERS", this.keys.nodes]);
    for (const node of nodes) {
      if (node === this.nodeId) continue;
      const lease = this.keys.lease(node);
      if ((await this.#connection.command<number>(lease, ["EXISTS", lease])) === 1) continue;
      let remaining = 0;
      for (let shard = 0; shard < SHARDS; shard++) {
        const key = this.keys.byNode(shard, node);
        let cursor = "0";
        do {
          const [next, left] = await this.#connection.script<[string, number]>(
            REAP_SCRIPT,
            [key],
            [this.keys.shard(shard), node, this.#o.now(), this.#o.pageGraceMs, this.#o.sessionTimeoutMs, this.#o.tombstoneTtlMs, this.keys.changes, cursor],
          );
          cursor = String(next);
          if (cursor === "0") remaining += Number(left);
        } while (cursor !== "0");
      }
      if (remaining === 0) await this.#connection.command(this.keys.nodes, ["SREM", this.keys.nodes, node]);
    }
  }

  #reached(): void {
    if (this.#reachable) return;
    this.#reachable = true;
    this.#o.onWarning("Redis answers again; what this node holds was written again");
    for (const listener of this.#stateListeners) listener(true);
  }

  #lost(error: unknown): void {
    if (!this.#reachable) return;
    this.#reachable = false;
    this.#o.onWarning("Redis is unreachable; sessions are kept here and written again when it returns", error);
    for (const listener of this.#stateListeners) listener(false);
  }

  /** Redis is back: everything this node holds is written again (a restarted Redis lost it). */
  #back(): void {
    if (!this.#opened) return;
    for (const record of this.#held.values()) this.#unsaved.add(record);
    void this.#renewLease()
      .then(() => this.flush())
      .then(() => this.#reached())
      .catch((error: unknown) => this.#lost(error));
  }
}

/** Creates the Redis persistence port (see `RedisPersistence`). */
export function createRedisStore(options: RedisStoreOptions): RedisPersistence {
  return new RedisPersistence(options);
}
