import type { IncomingMessage, ServerResponse } from "node:http";
import type { Clock, Scheduler, TimerHandle } from "../options.js";
import {
  MATCH_ALL,
  type SessionEndReason,
  type SessionQueries,
  type SessionQuery,
  type SessionRecord,
} from "../query/index.js";
import { sendError, waitForDrain } from "./respond.js";

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
  /**
   * A subscriber whose socket accepts nothing for this long (a write stays pending: kernel buffers
   * full) is dropped. Default 5 s.
   */
  stallMs?: number;
  /** Subscribers at most (503 beyond). Default 1,000. */
  maxSubscribers?: number;
  /** Subscribers per client address, IPv6 by /64 (429 beyond). Default 16. */
  maxSubscribersPerAddress?: number;
  /**
   * The key a request's client counts under for the per-address cap: its address through trusted
   * proxies, IPv6 by /64 (server.ts hands the transport's). Default: the socket's peer address.
   */
  addressKeyOf?: (req: IncomingMessage) => string;
  log: (level: "warn" | "info" | "debug", message: string, details?: Record<string, unknown>) => void;
}

/** Why a session left a subscriber's view: its end reason, or `filtered` when it no longer matches. */
export type RemoveReason = SessionEndReason | "filtered";

type Pending = { session: SessionRecord; removed: SessionEndReason | null };

/** The event texts of one change, serialised once for every subscriber that gets them. */
interface Texts {
  upsert: string | null;
  remove: Map<RemoveReason, string> | null;
}

/**
 * The snapshot event: one event whose data spans a `data:` line per session (the receiver joins
 * them with newlines, which JSON ignores), written in chunks.
 */
const SNAPSHOT_FRAMING = { open: "event: snapshot\ndata: [", first: "\ndata: ", separator: ",\ndata: ", close: "\ndata: ]\n\n" };

/** How often a stream checks whether it became partial (several collectors, Redis unreachable). */
const PARTIAL_CHECK_MS = 500;

/** `event: partial` with `{"partial": true|false}`. */
function partialEvent(partial: boolean): string {
  return `event: partial\ndata: {"partial":${partial}}\n\n`;
}

class Subscriber {
  /** Ids this subscriber has been shown (so a remove is sent only for what it knows). */
  readonly known = new Set<string>();
  /** Changes that arrived while the snapshot was being written. */
  backlog: Map<string, Pending> | null = new Map();
  /** Set while a write waits for the socket to drain; the subscriber is dropped when it fires. */
  stallTimer: TimerHandle | null = null;

  constructor(
    readonly res: ServerResponse,
    readonly query: SessionQuery,
    readonly addressKey: string,
  ) {}

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
  /** Subscriptions refused by the caps. */
  refused = 0;
  readonly #o: EventHubOptions;
  readonly #perAddress = new Map<string, number>();
  #pending = new Map<string, Pending>();
  #flushTimer: TimerHandle | null = null;
  #heartbeatTimer: TimerHandle | null = null;
  /** Several collectors: whether the stream may miss other nodes' sessions (Redis unreachable). */
  #partial = false;
  #partialTimer: TimerHandle | null = null;
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
    const addressKey = this.#o.addressKeyOf?.(req) ?? req.socket.remoteAddress ?? "";
    if (this.subscribers.size >= (this.#o.maxSubscribers ?? DEFAULT_MAX_SUBSCRIBERS)) {
      this.refused++;
      return sendError(res, 503, "too_many_subscribers", "the collector has as many event-stream subscribers as it serves", { "retry-after": "10" });
    }
    const fromAddress = this.#perAddress.get(addressKey) ?? 0;
    if (fromAddress >= (this.#o.maxSubscribersPerAddress ?? DEFAULT_MAX_SUBSCRIBERS_PER_ADDRESS)) {
      this.refused++;
      return sendError(res, 429, "too_many_subscribers", "too many event streams from this address", { "retry-after": "10" });
    }
    this.#perAddress.set(addressKey, fromAddress + 1);
    const subscriber = new Subscriber(res, query, addressKey);
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
    const remove = (): void => this.#forget(subscriber);
    res.on("drain", () => {
      if (subscriber.stallTimer !== null) this.#o.scheduler.clear(subscriber.stallTimer);
      subscriber.stallTimer = null;
    });
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
    if (this.#partial) subscriber.res.write(partialEvent(true));
  }

  /** Ends every stream (shutdown). */
  close(): void {
    this.#closed = true;
    if (this.#flushTimer !== null) this.#o.scheduler.clear(this.#flushTimer);
    if (this.#heartbeatTimer !== null) this.#o.scheduler.clear(this.#heartbeatTimer);
    if (this.#partialTimer !== null) this.#o.scheduler.clear(this.#partialTimer);
    this.#partialTimer = null;
    this.#flushTimer = null;
    this.#heartbeatTimer = null;
    this.#unwatch?.();
    this.#unwatch = null;
    for (const subscriber of this.subscribers) {
      if (subscriber.stallTimer !== null) this.#o.scheduler.clear(subscriber.stallTimer);
      subscriber.res.end();
    }
    this.subscribers.clear();
    this.#perAddress.clear();
    this.#pending.clear();
  }

  async #writeSnapshot(subscriber: Subscriber, records: SessionRecord[]): Promise<void> {
    const { res } = subscriber;
    const now = this.#o.clock.now();
    // Never the whole snapshot as one string: chunks of the cached JSON parts.
    for (const record of records) subscriber.known.add(record.id);
    const chunks = this.#o.queries.sessionListChunks(records, now, SNAPSHOT_FRAMING);
    for (let next = chunks.next(); !next.done; ) {
      const chunk = next.value;
      next = chunks.next();
      if (res.destroyed) return;
      if (next.done) this.#write(subscriber, chunk);
      else if (!res.write(chunk, () => this.#o.queries.releaseChunk(chunk))) await this.#drained(subscriber);
    }
  }

  #drained(subscriber: Subscriber): Promise<void> {
    return waitForDrain(subscriber.res, this.#stallMs, () => this.#drop(subscriber, "its snapshot stalled"));
  }

  get #stallMs(): number {
    return this.#o.stallMs ?? DEFAULT_STALL_MS;
  }

  /**
   * Writes to a subscriber. A write the socket does not take at once starts the stall timer: the
   * kernel's buffers hide a reader that stopped, so "nothing drained for `stallMs`" is what counts.
   */
  #write(subscriber: Subscriber, text: string | Buffer): void {
    if (subscriber.res.write(text) || subscriber.stallTimer !== null) return;
    subscriber.stallTimer = this.#o.scheduler.setTimeout(() => this.#drop(subscriber, "it stopped reading"), this.#stallMs);
  }

  #forget(subscriber: Subscriber): void {
    if (subscriber.stallTimer !== null) this.#o.scheduler.clear(subscriber.stallTimer);
    subscriber.stallTimer = null;
    if (this.subscribers.delete(subscriber)) {
      const count = this.#perAddress.get(subscriber.addressKey) ?? 0;
      if (count <= 1) this.#perAddress.delete(subscriber.addressKey);
      else this.#perAddress.set(subscriber.addressKey, count - 1);
    }
    this.#stopIfIdle();
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
    // Each change is serialised once, for all subscribers (lazily: only if one of them gets it).
    const texts = new Map<string, Texts>();
    for (const subscriber of this.subscribers) {
      if (!subscriber.ready) {
        for (const [id, change] of pending) subscriber.backlog!.set(id, change);
        continue;
      }
      for (const change of pending.values()) {
        let cached = texts.get(change.session.id);
        if (cached === undefined) texts.set(change.session.id, (cached = { upsert: null, remove: null }));
        if (!this.#deliver(subscriber, change, now, cached)) break;
      }
    }
  }

  /** Writes one change to one subscriber; false when the subscriber was dropped. */
  #deliver(subscriber: Subscriber, change: Pending, now: number, texts: Texts = { upsert: null, remove: null }): boolean {
    const { session, removed } = change;
    const id = session.id;
    let text: string | null = null;
    if (removed === null && this.#o.queries.matches(subscriber.query, session)) {
      subscriber.known.add(id);
      text = texts.upsert ??= `event: upsert\ndata: ${this.#o.queries.sessionJson(session, now)}\n\n`;
    } else if (subscriber.known.delete(id)) {
      const reason: RemoveReason = removed ?? "filtered";
      texts.remove ??= new Map();
      text = texts.remove.get(reason) ?? `event: remove\ndata: ${JSON.stringify({ id, reason })}\n\n`;
      texts.remove.set(reason, text);
    }
    if (text === null) return true;
    this.#write(subscriber, text);
    if (subscriber.res.writableLength > this.#o.maxBufferBytes) {
      this.#drop(subscriber, "it is not reading fast enough");
      return false;
    }
    return true;
  }

  #drop(subscriber: Subscriber, why: string): void {
    if (!this.subscribers.has(subscriber)) return;
    this.#forget(subscriber);
    this.dropped++;
    this.#o.log("warn", `an event-stream subscriber was dropped: ${why}`, { bufferedBytes: subscriber.res.writableLength });
    subscriber.res.destroy();
  }

  #startHeartbeats(): void {
    if (this.#heartbeatTimer !== null) return;
    this.#heartbeatTimer = this.#o.scheduler.setInterval(() => {
      for (const subscriber of this.subscribers) {
        if (!subscriber.ready) continue; // the snapshot's own drain wait drops a stalled one
        this.#write(subscriber, ": ping\n\n");
        if (subscriber.res.writableLength > this.#o.maxBufferBytes) this.#drop(subscriber, "it is not reading");
      }
    }, this.#o.heartbeatMs);
    // A `partial` event tells subscribers when the answer may miss other nodes' sessions, and when not.
    this.#partial = this.#o.queries.partial();
    this.#partialTimer = this.#o.scheduler.setInterval(() => {
      const partial = this.#o.queries.partial();
      if (partial === this.#partial) return;
      this.#partial = partial;
      for (const subscriber of this.subscribers) if (subscriber.ready) subscriber.res.write(partialEvent(partial));
    }, PARTIAL_CHECK_MS);
  }

  /** With no subscriber left: stop watching (the heartbeat path is free again) and stop pinging. */
  #stopIfIdle(): void {
    if (this.subscribers.size > 0) return;
    this.#unwatch?.();
    this.#unwatch = null;
    if (this.#partialTimer !== null) this.#o.scheduler.clear(this.#partialTimer);
    this.#partialTimer = null;
    if (this.#heartbeatTimer === null) return;
    this.#o.scheduler.clear(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
  }
}

const DEFAULT_STALL_MS = 5_000;
const DEFAULT_MAX_SUBSCRIBERS = 1_000;
const DEFAULT_MAX_SUBSCRIBERS_PER_ADDRESS = 16;
