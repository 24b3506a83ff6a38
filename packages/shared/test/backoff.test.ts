import { createBackoff } from "@sessionlens/shared/client";
import { describe, expect, it } from "vitest";

/** A backoff on a clock the test moves, with a fixed random value. */
function setup(random: number, options = { baseMs: 1000, maxMs: 30_000 }) {
  const clock = { now: 0 };
  const backoff = createBackoff(options, () => random, () => clock.now);
  /** Attempt times (from now) when every attempt fails at once, up to `horizonMs`. */
  const attemptsWithin = (horizonMs: number): number[] => {
    const start = clock.now;
    const times: number[] = [];
    for (;;) {
      const at = clock.now + backoff.next();
      if (at - start >= horizonMs) return times;
      clock.now = at;
      times.push(at - start);
    }
  };
  return { clock, backoff, attemptsWithin };
}

describe("createBackoff", () => {
  it("puts attempt n uniformly inside the window [0, b), [b, 2b), [2b, 4b)…, capped at maxMs", () => {
    expect(setup(0).attemptsWithin(100_000)).toEqual([0, 1000, 2000, 4000, 8000, 16_000, 32_000, 62_000, 92_000]);
    expect(setup(0.5).attemptsWithin(100_000)).toEqual([500, 1500, 3000, 6000, 12_000, 24_000, 47_000, 77_000]);
  });

  it("makes at most 7 attempts in the first minute whatever the draw", () => {
    for (const random of [0, 0.25, 0.5, 0.75, 0.9999]) {
      const count = setup(random).attemptsWithin(60_000).length;
      expect(count).toBeGreaterThanOrEqual(6);
      expect(count).toBeLessThanOrEqual(7);
    }
  });

  it("skips the first window after an announced restart: the first retry waits [b, 2b)", () => {
    for (const [random, first] of [
      [0, 1000],
      [0.5, 1500],
      [0.9999, 1999.9],
    ] as const) {
      const { backoff, attemptsWithin } = setup(random);
      backoff.reset(true);
      expect(attemptsWithin(3000)[0]).toBeCloseTo(first, 0);
    }
  });

  it("after an announced restart keeps the windows one base long until [3b, 4b), then doubles: [b, 2b), [2b, 3b), [3b, 4b), [4b, 8b)…", () => {
    const restarted = (random: number): number[] => {
      const { backoff, attemptsWithin } = setup(random);
      backoff.reset(true);
      return attemptsWithin(100_000);
    };
    expect(restarted(0)).toEqual([1000, 2000, 3000, 4000, 8000, 16_000, 32_000, 62_000, 92_000]);
    expect(restarted(0.5)).toEqual([1500, 2500, 3500, 6000, 12_000, 24_000, 47_000, 77_000]);
    // Still at most 7 attempts in the first minute.
    for (const random of [0, 0.5, 0.9999]) expect(restarted(random).filter((at) => at < 60_000).length).toBeLessThanOrEqual(7);
    // A later reset without a restart announcement goes back to doubling from [0, b).
    const { backoff, attemptsWithin } = setup(0);
    backoff.reset(true);
    backoff.reset();
    expect(attemptsWithin(5_000)).toEqual([0, 1000, 2000, 4000]);
  });

  it("starts over from the moment of reset()", () => {
    const { clock, backoff, attemptsWithin } = setup(0.5);
    attemptsWithin(10_000);
    clock.now += 500_000;
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(attemptsWithin(4000)).toEqual([500, 1500, 3000]);
  });

  it("waits a random part of the window from now when an attempt itself took longer than the window", () => {
    const { clock, backoff } = setup(0.5);
    expect(backoff.next()).toBe(500);
    clock.now = 10_000; // that attempt hung until a connect timeout
    expect(backoff.next()).toBe(500); // its window [1 s, 2 s) is gone: half of its length from now
    expect(backoff.next()).toBe(1000);
  });
});
