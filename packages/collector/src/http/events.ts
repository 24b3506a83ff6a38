import type { IncomingMessage, ServerResponse } from "node:http";
import type { Clock, Scheduler, TimerHandle } from "../options.js";
import {
  MATCH_ALL,
  type SessionEndReason,
  type SessionQueries,
  type SessionQuery,
  type SessionRecord,
} from "../query/index.js";
import { CHUNK_CHARS, waitForDrain } from "./respond.js";

export interface EventHubOptions {
  queries: SessionQueries;
  clock: Clock;
  /** Runs the coalescing flush and the comment heartbeats. */
  scheduler: Scheduler;
  /** Changes of one session are sent at most once per this interval. */
  coalesceMs: number;
  /** Comment lines this often keep proxies from closing idle streams. */
  heartbeatMs: number;
  /** A subscriber with more unsent output than this is dropped. */
  maxBufferBytes: number;
  log: (level: "warn" | "info" | "debug", message: string, details?: Record<string, unknown>) => void;
}

/** Why a session left a subscriber's view: its end reason, or `filtered` when it no longer matches. */
export type RemoveReason = SessionEndReason | "filtered";

type Pending = { session: SessionRecord; removed: SessionEndReason | null };

/** A subscriber whose snapshot cannot be delivered within this long is dropped. */
const SNAPSHOT_STALL_MS = 60_000;

class Subscriber {
  /** Ids this subscriber has been shown (so a remove is sent only for what it knows). */
  readonly known = new Set<string>();
  /** Changes that arrived while the snapshot was being written. */
  backlog: Map<string, Pending> | null = new Map();
  readonly startedAt: number;

  constructor(
    readonly res: ServerResponse,
    readonly query: SessionQuery,
  ) {
    this.startedAt = Date.now();
  }

  get ready(): boolean {
    return this.backlog === null;
  }
}

/**
 * `GET /api/v1/events`: a snapshot of the matching sessions, then `upsert` and `remove` events.
 * It watches the query layer (`queries.watch`) while it has subscribers. Changes are coalesced per
 * session (at most one per `coalesceMs`); a subscriber that cannot keep up is dropped once its
 * unsent output passes `maxBufferBytes`, so memory stays bounded.
 */
export class EventHub {
  readonly subscribers = new Set<Subscriber>();
  dropped = 0;
  readonly #o: EventHubOptions;
  #pending = new Map<string, Pending>();
  #flushTimer: TimerHandle | null = null;
  #heartbeatTimer: TimerHandle | null = null;
  #closed = false;
  #unwatch: (() => void) | null = null;

  constructor(options: EventHubOptions) {
    this.#o = options;
  }

  #onChange = (session: SessionRecord, removed: SessionEndReason | null): void => {
    if (removed !== null) this.#pending.set(session.id, { session, removed });
    else if (!this.#pending.has(session.id)) this.#pending.set(session.id, { session, removed: null });
    this.#scheduleFlush();
  };

  async subscribe(req: IncomingMessage, res: ServerResponse, query: SessionQuery): Promise<void> {
    if (this.#closed) {
      res.writeHead(503).end();
      return;
    }
    const subscriber = new Subscriber(res, query);
    this.subscribers.add(subscriber);
    // One watch of every session for all subscribers; each is filtered at delivery.
    this.#unwatch ??= this.#o.queries.watch(MATCH_ALL, this.#onChange);
    this.#startHeartbeats();
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      // Ask nginx-like proxies not to buffer the stream.
      "x-accel-buffering": "no",
    });
    res.socket?.setNoDelay(true);
    const remove = (): void => {
      this.subscribers.delete(subscriber);
      this.#stopIfIdle();
    };
    req.on("close", remove);
    res.on("close", remove);
    res.on("error", remove);
    res.write("retry: 2000\n\n");

    try {
      const records = await this.#o.queries.recordsFor(query);
      await this.#writeSnapshot(subscriber, records);
    } catch (error) {
      this.#o.log("warn", "an event-stream snapshot failed", { err: error });
      res.destroy();
      return;
    }
    if (res.destroyed || !this.subscribers.has(subscriber)) return;
    const backlog = subscriber.backlog!;
    subscriber.backlog = null;
    for (const pending of backlog.values()) this.#deliver(subscriber, pending, this.#o.clock.now());
  }

  /** Ends every stream (shutdown). */
  close(): void {
    this.#closed = true;
    if (this.#flushTimer !== null) this.#o.scheduler.clear(this.#flushTimer);
    if (this.#heartbeatTimer !== null) this.#o.scheduler.clear(this.#heartbeatTimer);
    this.#flushTimer = null;
    this.#heartbeatTimer = null;
    this.#unwatch?.();
    this.#unwatch = null;
    for (const subscriber of this.subscribers) subscriber.res.end();
    this.subscribers.clear();
    this.#pending.clear();
  }

  async #writeSnapshot(subscriber: Subscriber, records: SessionRecord[]): Promise<void> {
    const { res } = subscriber;
    const now = this.#o.clock.now();
    // One event whose data spans many `data:` lines: the receiver joins them with newlines, which
    // JSON ignores, and the collector never holds the whole snapshot as one string.
    let chunk = "event: snapshot\ndata: [";
    let first = true;
    for (const record of records) {
      if (res.destroyed) return;
      chunk += `${first ? "" : ","}\ndata: ${this.#o.queries.sessionJson(record, now)}`;
      first = false;
      subscriber.known.add(record.id);
      if (chunk.length >= CHUNK_CHARS) {
        const flushed = res.write(chunk);
        chunk = "";
        if (!flushed) await this.#drained(subscriber);
      }
    }
    res.write(`${chunk}\ndata: ]\n\n`);
  }

  #drained(subscriber: Subscriber): Promise<void> {
    return waitForDrain(subscriber.res, SNAPSHOT_STALL_MS, () => this.#drop(subscriber, "its snapshot stalled"));
  }

  #scheduleFlush(): void {
    if (this.#flushTimer !== null || this.#closed) return;
    this.#flushTimer = this.#o.scheduler.setTimeout(() => {
      this.#flushTimer = null;
      this.#flush();
    }, this.#o.coalesceMs);
  }

  #flush(): void {
    const pending = this.#pending;
    this.#pending = new Map();
    const now = this.#o.clock.now();
    for (const subscriber of this.subscribers) {
      if (!subscriber.ready) {
        for (const [id, change] of pending) subscriber.backlog!.set(id, change);
        continue;
      }
      for (const change of pending.values()) {
        if (!this.#deliver(subscriber, change, now)) break;
      }
    }
  }

  /** Writes one change to one subscriber; false when the subscriber was dropped. */
  #deliver(subscriber: Subscriber, change: Pending, now: number): boolean {
    const { session, removed } = change;
    const id = session.id;
    let text: string | null = null;
    if (removed === null && this.#o.queries.matches(subscriber.query, session)) {
      subscriber.known.add(id);
      text = `event: upsert\ndata: ${this.#o.queries.sessionJson(session, now)}\n\n`;
    } else if (subscriber.known.delete(id)) {
      const reason: RemoveReason = removed ?? "filtered";
      text = `event: remove\ndata: ${JSON.stringify({ id, reason })}\n\n`;
    }
    if (text === null) return true;
    subscriber.res.write(text);
    if (subscriber.res.writableLength > this.#o.maxBufferBytes) {
      this.#drop(subscriber, "it is not reading fast enough");
      return false;
    }
    return true;
  }

  #drop(subscriber: Subscriber, why: string): void {
    if (!this.subscribers.delete(subscriber)) return;
    this.dropped++;
    this.#o.log("warn", `an event-stream subscriber was dropped: ${why}`, { bufferedBytes: subscriber.res.writableLength });
    subscriber.res.destroy();
    this.#stopIfIdle();
  }

  #startHeartbeats(): void {
    if (this.#heartbeatTimer !== null) return;
    this.#heartbeatTimer = this.#o.scheduler.setInterval(() => {
      for (const subscriber of this.subscribers) {
        if (!subscriber.ready) {
          if (Date.now() - subscriber.startedAt > SNAPSHOT_STALL_MS) this.#drop(subscriber, "its snapshot stalled");
          continue;
        }
        subscriber.res.write(": ping\n\n");
        if (subscriber.res.writableLength > this.#o.maxBufferBytes) this.#drop(subscriber, "it is not reading");
      }
    }, this.#o.heartbeatMs);
  }

  /** With no subscriber left: stop watching (the heartbeat path is free again) and stop pinging. */
  #stopIfIdle(): void {
    if (this.subscribers.size > 0) return;
    this.#unwatch?.();
    this.#unwatch = null;
    if (this.#heartbeatTimer === null) return;
    this.#o.scheduler.clear(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
  }
}
