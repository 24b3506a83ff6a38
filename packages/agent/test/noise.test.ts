import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startAgent, type Agent } from "../src/index.js";
import { FakeEnvironment } from "./testUtils/fakeEnvironment.js";
import { FakeSocket } from "./testUtils/fakeSocket.js";
import { fakePage, type FakePage } from "./testUtils/fakeWindow.js";

/**
 * Console noise while the collector is down. A browser prints one error line for every WebSocket
 * that fails to connect, and a page cannot silence it; so the lines a page shows are its connection
 * attempts (the Chromium suite checks one line per attempt). These tests simulate many pages with
 * the collector down for a quarter of an hour, on a fake clock, and count attempts per minute: the
 * behaviour, whatever backoff formula produces it.
 */

const MINUTE_MS = 60_000;
/** "A few lines per minute": the most any page may show in any minute once the first is over. */
const MAX_PER_MINUTE = 6;
/** The first minute may try harder (the collector may be back at once), within reason. */
const MAX_FIRST_MINUTE = 10;
const PAGES = 60;
const DOWN_MS = 15 * MINUTE_MS;

let agents: Agent[] = [];
beforeEach(() => {
  FakeSocket.reset();
  vi.spyOn(console, "warn").mockImplementation(() => undefined);
});
afterEach(() => {
  for (const agent of agents) agent.stop();
  agents = [];
  vi.restoreAllMocks();
});

/** A deterministic random source per page (mulberry32), so a failure can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs one page against a collector that refuses every connection; returns its attempt times. */
async function attemptsWhileDown(seed: number, whilePageRuns?: (page: FakePage, env: FakeEnvironment, at: number) => void): Promise<number[]> {
  const page = fakePage();
  const env = new FakeEnvironment(page.window);
  env.random = seeded(seed);
  const attempts: number[] = [];
  class RefusedSocket extends FakeSocket {
    constructor(url: string) {
      super(url);
      attempts.push(env.now());
      // A refused connection fails within milliseconds: the browser prints its line, then onclose.
      env.setTimeout(() => {
        this.readyState = 3;
        this.onclose?.({ code: 1006, reason: "" });
      }, 5);
    }
  }
  agents.push(startAgent({ url: "wss://collector.example.com/ws", project: "Noise", WebSocket: RefusedSocket, storage: false }, env));
  const start = env.now();
  const stepMs = 1000;
  for (let at = 0; at < DOWN_MS; at += stepMs) {
    whilePageRuns?.(page, env, at);
    await env.advance(stepMs);
  }
  return attempts.map((time) => time - start);
}

function perMinute(attempts: number[]): number[] {
  const minutes = new Array<number>(DOWN_MS / MINUTE_MS).fill(0);
  for (const at of attempts) minutes[Math.floor(at / MINUTE_MS)]!++;
  return minutes;
}

function worst(runs: number[][]): { first: number; later: number; meanLater: number } {
  let first = 0;
  let later = 0;
  let sum = 0;
  for (const minutes of runs) {
    first = Math.max(first, minutes[0]!);
    later = Math.max(later, ...minutes.slice(1));
    sum += minutes.slice(1).reduce((a, b) => a + b, 0) / (minutes.length - 1);
  }
  return { first, later, meanLater: sum / runs.length };
}

describe("console noise while the collector is down", () => {
  it(`stays at a few failed attempts (console lines) per minute per page, over ${PAGES} pages and ${DOWN_MS / MINUTE_MS} minutes`, async () => {
    const runs: number[][] = [];
    for (let seed = 1; seed <= PAGES; seed++) runs.push(perMinute(await attemptsWhileDown(seed)));
    const seen = worst(runs);
    console.log(`[noise] collector down: worst first minute ${seen.first}, worst later minute ${seen.later}, mean later ${seen.meanLater.toFixed(2)}/min`);
    expect(seen.first).toBeLessThanOrEqual(MAX_FIRST_MINUTE);
    expect(seen.later).toBeLessThanOrEqual(MAX_PER_MINUTE);
  }, 120_000);

  it("is not multiplied by a user switching tabs (visibility changes every 3 s)", async () => {
    const runs: number[][] = [];
    for (let seed = 1; seed <= PAGES / 3; seed++) {
      runs.push(
        perMinute(
          await attemptsWhileDown(seed, (page, _env, at) => {
            if (at % 3000 === 0) page.setVisibility(at % 6000 === 0 ? "hidden" : "visible");
          }),
        ),
      );
    }
    const seen = worst(runs);
    console.log(`[noise] with tab switching: worst first minute ${seen.first}, worst later minute ${seen.later}, mean later ${seen.meanLater.toFixed(2)}/min`);
    expect(seen.first).toBeLessThanOrEqual(MAX_FIRST_MINUTE);
    expect(seen.later).toBeLessThanOrEqual(MAX_PER_MINUTE);
  }, 120_000);
});
