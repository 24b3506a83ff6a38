import { systemScheduler, type Scheduler, type TimerHandle } from "../options.js";
import type { SessionRecord, Tombstone } from "../sessions/records.js";
import { SessionPersistence, type RestoredState } from "./port.js";
import { CountersFile, SnapshotFile, applyCounters } from "./snapshot.js";

export interface MemoryStoreOptions {
  /**
   * Folder of the durable snapshot (`sessions.json`, and `counters.json` for bytes counted since
   * it was written). Without it nothing survives a restart.
   * Default: none.
   */
  dataDir?: string | null;
  /** The snapshot is written at most this often after a structural change. Default `2_000`. */
  snapshotIntervalMs?: number;
  /**
   * The counters file (bytes that rose, nothing structural) is written at most this often; rounded
   * up to whole `snapshotIntervalMs`. Every write holds every session whose bytes rose since the
   * last snapshot, so with agents' 10 s heartbeats a shorter interval rewrites the same sessions
   * more often for little gain: an agent reports its bytes once per heartbeat anyway, and resends
   * them when it reconnects. Default `10_000`.
   */
  countersIntervalMs?: number;
  /** Tombstones older than this are forgotten. Default 7 days. */
  tombstoneTtlMs?: number;
  /**
   * At most this many tombstones are kept; beyond it the oldest are evicted and the latest end
   * time among them becomes the tombstone floor. Default `200_000`.
   */
  maxTombstones?: number;
  /** Time source. Default `Date.now`. */
  now?: () => number;
  /** Runs the periodic writes. Default: Node's timers, `unref()`'d. */
  scheduler?: Scheduler;
  /** Told about snapshot problems (unreadable counters file, failed write). Default: ignored. */
  onWarning?: (message: string, error?: unknown) => void;
  /**
   * Told (at error level) when the snapshot is unreadable: it was moved aside, and the previous
   * generation or a resume floor at the start time was used instead. Default: ignored.
   */
  onUnreadableSnapshot?: (message: string, error: unknown) => void;
}

/**
 * The embedded persistence port. It keeps the sessions it is given (the model's live objects, by
 * reference) and the tombstones of ended ones. With a `dataDir` it is durable: creation times,
 * closed-page bytes, page counters and tombstones are written atomically to a snapshot every few
 * seconds after a structural change and at close, and read back at open. Bytes that rose in place
 * (heartbeats) only write the counters of the sessions concerned to a small counters file, applied
 * over the snapshot of the same generation at open.
 */
export class MemorySessionStore extends SessionPersistence {
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #tombstones = new Map<string, Tombstone>();
  readonly #snapshot: SnapshotFile | null;
  readonly #counters: CountersFile | null;
  readonly #snapshotIntervalMs: number;
  /** Timer rounds between two counters-file writes (`countersIntervalMs / snapshotIntervalMs`). */
  readonly #countersRounds: number;
  /** Timer rounds since the last write of either file. */
  #roundsSinceWrite = 0;
  readonly #tombstoneTtlMs: number;
  readonly #maxTombstones: number;
  /** The latest end time among evicted tombstones (see `tombstoneFloor`). */
  #tombstoneFloor = 0;
  readonly #now: () => number;
  readonly #warn: (message: string, error?: unknown) => void;
  readonly #unreadable: (message: string, error: unknown) => void;
  /** A structural change since the last snapshot: the next write is a full snapshot. */
  #dirty = false;
  /** Sessions whose counters changed since the last full snapshot (what the counters file holds). */
  readonly #countedSessions = new Set<SessionRecord>();
  /** Counters changed since the last write of the counters file. */
  #countersDirty = false;
  /** The generation of the snapshot on disk, or null when there is none this store can vouch for. */
  #generation: number | null = null;
  /** The highest generation seen on disk (snapshot or counters file): the next snapshot's is above. */
  #lastGeneration = 0;
  /** How long the last write took: big snapshots are written less often. */
  #lastWriteMs = 0;
  readonly #scheduler: Scheduler;
  #timer: TimerHandle | null = null;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;
  /** Exposed for tests: how many full snapshots and counters files this store wrote. */
  readonly writes = { snapshots: 0, counters: 0 };

  constructor(options: MemoryStoreOptions = {}) {
    super();
    this.#snapshot = options.dataDir ? new SnapshotFile(options.dataDir) : null;
    this.#counters = options.dataDir ? new CountersFile(options.dataDir) : null;
    this.#snapshotIntervalMs = options.snapshotIntervalMs ?? 2_000;
    this.#countersRounds = Math.max(1, Math.ceil((options.countersIntervalMs ?? 10_000) / this.#snapshotIntervalMs));
    this.#tombstoneTtlMs = options.tombstoneTtlMs ?? 7 * 24 * 3_600_000;
    this.#maxTombstones = options.maxTombstones ?? DEFAULT_MAX_TOMBSTONES;
    this.#now = options.now ?? Date.now;
    this.#warn = options.onWarning ?? (() => {});
    this.#unreadable = options.onUnreadableSnapshot ?? (() => {});
    this.#scheduler = options.scheduler ?? systemScheduler;
  }

  override async open(): Promise<RestoredState> {
    this.#closed = false;
    const restored: SessionRecord[] = [];
    if (this.#snapshot && this.#counters) {
      const loaded = await this.#readSnapshot(this.#snapshot);
      const counters = await this.#counters.read().catch((error: unknown) => {
        this.#warn("the counters file could not be read; using the snapshot alone", error);
        return null;
      });
      if (counters) this.#lastGeneration = Math.max(this.#lastGeneration, counters.generation);
      if (loaded) {
        this.#generation = loaded.generation;
        this.#lastGeneration = Math.max(this.#lastGeneration, loaded.generation);
        // Counters written after this very snapshot: bytes counted since, merged with max.
        if (counters && counters.generation === loaded.generation) {
          for (const session of loaded.sessions) {
            const counted = counters.sessions.get(session.id);
            if (counted !== undefined) applyCounters(session, counted);
          }
        }
        const oldest = this.#now() - this.#tombstoneTtlMs;
        for (const [id, tombstone] of loaded.tombstones) {
          if (tombstone.endedAt >= oldest) this.#tombstones.set(id, tombstone);
        }
        this.#tombstoneFloor = Math.max(this.#tombstoneFloor, loaded.tombstoneFloor);
        this.#evictOverCap();
        for (const session of loaded.sessions) {
          if (!this.#tombstones.has(session.id)) restored.push(session);
        }
      }
      this.#timer = this.#scheduler.setInterval(() => {
        this.#roundsSinceWrite++;
        // Spend at most about a tenth of the time writing, however large the store grows.
        if (this.#roundsSinceWrite * this.#snapshotIntervalMs >= this.#lastWriteMs * 10) void this.#writeIfDirty(false);
      }, this.#snapshotIntervalMs);
    }
    return { sessions: restored };
  }

  override async put(session: SessionRecord): Promise<void> {
    this.#sessions.set(session.id, session);
    this.#dirty = true;
  }

  override async end(id: string, tombstone: Tombstone): Promise<void> {
    this.#sessions.delete(id);
    this.#tombstones.set(id, tombstone);
    this.#evictOverCap();
    this.#dirty = true;
  }

  /** The heartbeat hot path: a flag and a Set add (of a member, most of the time: no allocation). */
  override countersChanged(session: SessionRecord): void {
    if (this.#snapshot === null) return;
    this.#countersDirty = true;
    this.#countedSessions.add(session);
  }

  /**
   * Forgets expired tombstones from the oldest on, at most `PRUNE_BATCH` per call. Tombstones are
   * kept in the order sessions ended, so it stops at the first one that has not expired.
   */
  override async prune(): Promise<void> {
    const oldest = this.#now() - this.#tombstoneTtlMs;
    let seen = 0;
    for (const [id, tombstone] of this.#tombstones) {
      if (tombstone.endedAt >= oldest || ++seen > PRUNE_BATCH) break;
      this.#tombstones.delete(id);
      this.#dirty = true;
    }
  }

  override async tombstoneFloor(): Promise<number> {
    return this.#tombstoneFloor;
  }

  override async getTombstone(id: string): Promise<Tombstone | undefined> {
    const tombstone = this.#tombstones.get(id);
    if (tombstone !== undefined && tombstone.endedAt < this.#now() - this.#tombstoneTtlMs) {
      this.#tombstones.delete(id);
      return undefined;
    }
    return tombstone;
  }

  override async ping(): Promise<void> {
    if (this.#closed) throw new Error("the store is closed");
  }

  override async flush(): Promise<void> {
    await this.#writeIfDirty(true);
  }

  override async close(): Promise<void> {
    if (this.#timer !== null) this.#scheduler.clear(this.#timer);
    this.#timer = null;
    await this.flush();
    this.#closed = true;
  }

  /** Exposed for tests: settles when the writes asked for so far are done. */
  settled(): Promise<void> {
    return this.#writing;
  }

  /** Exposed for tests of tombstone upkeep. */
  tombstoneCount(): number {
    return this.#tombstones.size;
  }

  /**
   * The snapshot, else (unreadable: truncated, garbage, a newer version) the previous generation,
   * else nothing with a resume floor at the start time: no credential issued before it can then
   * recreate a session, so a session an admin closed never comes back. The unreadable file is
   * moved aside first, so no later write overwrites it.
   */
  async #readSnapshot(snapshot: SnapshotFile): Promise<Awaited<ReturnType<SnapshotFile["read"]>>> {
    try {
      return await snapshot.read();
    } catch (error) {
      const aside = await snapshot.keepAside(this.#now()).catch(() => snapshot.path);
      const previous = await snapshot.readPrevious().catch(() => null);
      if (previous !== null) {
        this.#unreadable(`the session snapshot is unreadable (kept as ${aside}); using the previous generation`, error);
        return previous;
      }
      this.#tombstoneFloor = Math.max(this.#tombstoneFloor, this.#now());
      this.#dirty = true;
      this.#unreadable(
        `the session snapshot is unreadable (kept as ${aside}) and there is no previous generation; ` +
          "starting empty, and resume credentials issued before now will start new sessions",
        error,
      );
      return null;
    }
  }

  /** Evicts the oldest tombstones beyond the cap; the floor remembers the latest end among them. */
  #evictOverCap(): void {
    while (this.#tombstones.size > this.#maxTombstones) {
      const [id, tombstone] = this.#tombstones.entries().next().value as [string, Tombstone];
      this.#tombstones.delete(id);
      if (tombstone.endedAt > this.#tombstoneFloor) this.#tombstoneFloor = tombstone.endedAt;
      this.#dirty = true;
    }
  }

  /** Writes what changed; counters alone only once their interval has passed, unless `now`. */
  #writeIfDirty(now: boolean): Promise<void> {
    // Writes are serialised; a write asked for during one runs after it.
    this.#writing = this.#writing.then(async () => {
      if (this.#snapshot === null || this.#counters === null) return;
      // Counters with no snapshot on disk to apply to need a full snapshot.
      if (this.#countersDirty && this.#generation === null) this.#dirty = true;
      if (!this.#dirty && !this.#countersDirty) return;
      const full = this.#dirty;
      if (!full && !now && this.#roundsSinceWrite < this.#countersRounds) return;
      this.#roundsSinceWrite = 0;
      const started = Date.now();
      try {
        if (full) {
          // The snapshot has every counter as of now: the counters file starts over. Counters that
          // change while the snapshot is written put their session back in the set.
          this.#dirty = false;
          this.#countersDirty = false;
          this.#countedSessions.clear();
          const generation = this.#lastGeneration + 1;
          await this.#snapshot.write(
            Array.from(this.#sessions.values()),
            this.#tombstones,
            this.#tombstoneFloor,
            this.#now(),
            generation,
          );
          this.#generation = this.#lastGeneration = generation;
          this.writes.snapshots++;
        } else {
          this.#countersDirty = false;
          const sessions: SessionRecord[] = [];
          for (const session of this.#countedSessions) {
            if (this.#sessions.get(session.id) === session) sessions.push(session);
          }
          await this.#counters.write(sessions, this.#now(), this.#generation!);
          this.writes.counters++;
        }
      } catch (error) {
        // A failed snapshot is retried in full (it covers the counters); failed counters are retried.
        if (full) this.#dirty = true;
        else this.#countersDirty = true;
        this.#warn(`the session ${full ? "snapshot" : "counters file"} could not be written; retrying`, error);
      } finally {
        this.#lastWriteMs = Date.now() - started;
      }
    });
    return this.#writing;
  }
}

/** Default cap of remembered ended sessions (about 50 bytes each in the snapshot). */
export const DEFAULT_MAX_TOMBSTONES = 200_000;
/** Tombstones looked at per `prune()`. */
const PRUNE_BATCH = 1_000;

export function createMemoryStore(options?: MemoryStoreOptions): MemorySessionStore {
  return new MemorySessionStore(options);
}
