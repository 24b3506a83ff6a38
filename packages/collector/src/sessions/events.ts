import type { SessionInfo } from "@sessionlens/shared";
import type { SessionEndReason } from "../store/types.js";

/** Why a page left its session. */
export type PageEndReason = "bye" | "grace" | "closed" | "session-ended";

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
