import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { createCollector, type Collector, type CollectorOptions } from "@sessionlens/collector";
import type { Clock, Scheduler, TimerHandle } from "../../src/options.js";
import { eventually } from "../../../../testing/eventually.js";

export { eventually };

interface ManualTimer {
  callback: () => void;
  dueMs: number;
  /** Repeat period of an interval, or null for a timeout. */
  periodMs: number | null;
}

/**
 * A clock the test moves by hand. Given to a collector as its `scheduler` too, it also runs the
 * collector's timers: `advance(ms)` fires every timer due by then, once (an interval that missed
 * several periods fires once and is due again a period later), in order of due time. Without it,
 * the collector's timers are real and read this clock.
 */
export class ManualClock implements Clock, Scheduler {
  readonly #timers = new Set<ManualTimer>();

  constructor(public nowMs = 1_764_000_000_000) {}

  now(): number {
    return this.nowMs;
  }

  advance(ms: number): void {
    this.nowMs += ms;
    const due = [...this.#timers].filter((timer) => timer.dueMs <= this.nowMs).sort((a, b) => a.dueMs - b.dueMs);
    for (const timer of due) {
      if (!this.#timers.has(timer)) continue;
      if (timer.periodMs === null) this.#timers.delete(timer);
      else timer.dueMs = this.nowMs + timer.periodMs;
      timer.callback();
    }
  }

  /** Timers waiting to fire. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer: ManualTimer = { callback, dueMs: this.nowMs + ms, periodMs: null };
    this.#timers.add(timer);
    return timer;
  }

  setInterval(callback: () => void, ms: number): TimerHandle {
    const timer: ManualTimer = { callback, dueMs: this.nowMs + ms, periodMs: ms };
    this.#timers.add(timer);
    return timer;
  }

  clear(handle: TimerHandle): void {
    this.#timers.delete(handle as ManualTimer);
  }
}

export interface TestCollector {
  collector: Collector;
  clock: ManualClock;
  url: string;
  wsUrl: string;
  close(): Promise<void>;
}

export const silentLogger = pino({ level: "silent" });

/** A collector on port 0 with a manual clock, no data dir and a fast sweep. */
export async function startCollector(options: CollectorOptions = {}, clock = new ManualClock()): Promise<TestCollector> {
  const collector = createCollector({
    port: 0,
    dataDir: null,
    logger: silentLogger,
    sweepIntervalMs: 20,
    clock,
    ...options,
  });
  const address = await collector.listen();
  return { collector, clock, url: address.url, wsUrl: address.wsUrl, close: () => collector.close() };
}

/** A manual clock that also runs the collector's timers: pass both as `t.start(...fakeTimers())`. */
export function fakeTimers(options: CollectorOptions = {}): [CollectorOptions, ManualClock] {
  const clock = new ManualClock();
  return [{ ...options, scheduler: clock }, clock];
}

/** Lets callbacks already queued (promise reactions, I/O) run; waits for no timer. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export async function tempDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "sessionlens-test-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export async function sessionsOf(collector: Collector, username?: string, project?: string) {
  return collector.getSessionInfo(username, project);
}

export function sessionById(list: { id: string }[], id: string) {
  return list.find((session) => session.id === id);
}

/** Waits until the collector has seen a page's socket drop (so its grace period has started). */
export async function pageDropped(collector: Collector, sessionId: string, pageId: string): Promise<void> {
  await eventually(async () => {
    const details = await collector.getSession(sessionId);
    const page = details?.pages.find((candidate) => candidate.id === pageId);
    if (page === undefined || page.connected) throw new Error(`page ${pageId} is still connected`);
  });
}
