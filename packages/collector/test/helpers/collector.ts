import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { vi } from "vitest";
import { createCollector, type Collector, type CollectorOptions } from "@sessionlens/collector";
import type { Clock } from "../../src/options.js";

/** A clock the test moves by hand; sweeps run on real timers and read it. */
export class ManualClock implements Clock {
  constructor(public nowMs = 1_764_000_000_000) {}
  now(): number {
    return this.nowMs;
  }
  advance(ms: number): void {
    this.nowMs += ms;
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

export async function tempDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "sessionlens-test-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Waits until `check` stops throwing (real time; generous so a slow machine never fails it). */
export function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5_000): Promise<T> {
  return vi.waitFor(check, { timeout: timeoutMs, interval: 10 });
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
