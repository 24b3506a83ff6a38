import type { SessionInfo } from "@sessionlens/shared";
import { Changed, pageEndReasonOf, type ChangeSet, type FeedConsumer } from "./feed.js";
import type { PageEndReason, SessionEndReason, SessionRecord } from "./records.js";

export type { PageEndReason } from "./records.js";

/** Lifecycle events of `collector.on(...)`; every handler gets the session's info at that moment. */
export interface LifecycleEvents {
  sessionStart: (session: SessionInfo) => void | Promise<void>;
  sessionEnd: (session: SessionInfo, reason: SessionEndReason) => void | Promise<void>;
  pageStart: (session: SessionInfo, pageId: string) => void | Promise<void>;
  pageEnd: (session: SessionInfo, pageId: string, reason: PageEndReason) => void | Promise<void>;
  login: (session: SessionInfo) => void | Promise<void>;
  logout: (session: SessionInfo) => void | Promise<void>;
}

export type LifecycleEventName = keyof LifecycleEvents;

export const LIFECYCLE_EVENT_NAMES: readonly LifecycleEventName[] = [
  "sessionStart",
  "sessionEnd",
  "pageStart",
  "pageEnd",
  "login",
  "logout",
];

type AnyHandler = (...args: unknown[]) => unknown;

interface Pending {
  name: LifecycleEventName;
  args: unknown[];
}

/** A handler slower than this (synchronous part) is reported. */
const SLOW_HANDLER_MS = 100;

/**
 * Delivers lifecycle events to user handlers after the state change is complete (in a microtask),
 * so a handler can never interrupt the session model, re-enter it half-way, or change the outcome
 * by throwing. Throwing, rejecting and slow handlers are reported and otherwise ignored.
 */
export class LifecycleEmitter {
  readonly #handlers = new Map<LifecycleEventName, AnyHandler[]>();
  readonly #report: (message: string, details: Record<string, unknown>) => void;
  #queue: Pending[] = [];
  #scheduled = false;

  constructor(report: (message: string, details: Record<string, unknown>) => void) {
    this.#report = report;
  }

  on<E extends LifecycleEventName>(name: E, handler: LifecycleEvents[E]): () => void {
    if (!LIFECYCLE_EVENT_NAMES.includes(name)) throw new TypeError(`unknown collector event "${String(name)}"`);
    if (typeof handler !== "function") throw new TypeError("handler must be a function");
    const list = this.#handlers.get(name) ?? [];
    list.push(handler as AnyHandler);
    this.#handlers.set(name, list);
    return () => this.off(name, handler);
  }

  off<E extends LifecycleEventName>(name: E, handler: LifecycleEvents[E]): void {
    const list = this.#handlers.get(name);
    if (list === undefined) return;
    const index = list.indexOf(handler as AnyHandler);
    if (index !== -1) list.splice(index, 1);
  }

  /** Whether anyone listens, so callers can skip building the event's info. */
  wants(name: LifecycleEventName): boolean {
    const list = this.#handlers.get(name);
    return list !== undefined && list.length > 0;
  }

  emit<E extends LifecycleEventName>(name: E, ...args: Parameters<LifecycleEvents[E]>): void {
    if (!this.wants(name)) return;
    this.#queue.push({ name, args });
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#drain());
    }
  }

  #drain(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    for (const { name, args } of queue) {
      for (const handler of [...(this.#handlers.get(name) ?? [])]) this.#call(name, handler, args);
    }
  }

  #call(name: LifecycleEventName, handler: AnyHandler, args: unknown[]): void {
    const started = performance.now();
    try {
      const result = handler(...args);
      if (result instanceof Promise) {
        result.catch((error: unknown) => this.#report("a lifecycle handler rejected", { event: name, err: error }));
      }
    } catch (error) {
      this.#report("a lifecycle handler threw", { event: name, err: error });
    }
    const elapsedMs = performance.now() - started;
    if (elapsedMs > SLOW_HANDLER_MS) {
      this.#report("a lifecycle handler was slow (it blocks the collector while it runs)", {
        event: name,
        elapsedMs: Math.round(elapsedMs),
      });
    }
  }
}

/**
 * Turns the change feed into lifecycle events: `sessionStart`, `pageStart`, `pageEnd`, `login`,
 * `logout`, `sessionEnd`. The session's info is built only when someone listens.
 */
export class HooksConsumer implements FeedConsumer {
  constructor(
    private readonly emitter: LifecycleEmitter,
    /** The thirteen keys of a session at `now` (the query layer's view, injected). */
    private readonly toInfo: (session: SessionRecord, now: number) => SessionInfo,
    private readonly now: () => number,
  ) {}

  upsert(session: SessionRecord, changed: ChangeSet, _bytesRaised: number, pageId: string | null): void {
    // Restored sessions were started by an earlier run: no event.
    if ((changed & (Changed.created | Changed.pageOpened | PAGE_LEFT_OR_IDENTITY)) === 0 || (changed & Changed.restored) !== 0) return;
    const emitter = this.emitter;
    let info: SessionInfo | null = null;
    const infoNow = (): SessionInfo => (info ??= this.toInfo(session, this.now()));
    if ((changed & Changed.created) !== 0 && emitter.wants("sessionStart")) emitter.emit("sessionStart", infoNow());
    if ((changed & Changed.pageOpened) !== 0 && pageId !== null && emitter.wants("pageStart")) emitter.emit("pageStart", infoNow(), pageId);
    const pageEnd = pageEndReasonOf(changed);
    if (pageEnd !== null && pageId !== null && emitter.wants("pageEnd")) emitter.emit("pageEnd", infoNow(), pageId, pageEnd);
    if ((changed & Changed.login) !== 0 && emitter.wants("login")) emitter.emit("login", infoNow());
    if ((changed & Changed.logout) !== 0 && emitter.wants("logout")) emitter.emit("logout", infoNow());
  }

  remove(session: SessionRecord, reason: SessionEndReason, endedAt: number): void {
    const emitter = this.emitter;
    if (!emitter.wants("sessionEnd") && !emitter.wants("pageEnd")) return;
    const info = this.toInfo(session, endedAt);
    for (const pageId of session.pages.keys()) emitter.emit("pageEnd", info, pageId, "session-ended");
    emitter.emit("sessionEnd", info, reason);
  }
}

const PAGE_LEFT_OR_IDENTITY = Changed.pageLeftBye | Changed.pageLeftGrace | Changed.pageLeftClosed | Changed.login | Changed.logout;
