import { describe, expect, it } from "vitest";
import { mergeStats, niceCeiling, readStats, stackedAreaPaths, stackedMax, topReasons, type StatsSample } from "../src/chart-data.js";

const counts = (browser = 0, android = 0) => ({ browser, ios: 0, android, designer: 0 });
const sample = (at: number, extra: Partial<StatsSample> = {}): StatsSample => ({
  at,
  sessions: counts(),
  pages: counts(),
  bytesPerSecond: 0,
  rejected: {},
  ...extra,
});

describe("chart data", () => {
  it("reads a stats answer and skips malformed samples", () => {
    const read = readStats({
      intervalMs: 5000,
      windowMs: 60_000,
      samples: [sample(1), { at: "x" }, { ...sample(2), sessions: { browser: -1 } }, { ...sample(3), rejected: { rate_limited: 2, bad: "x" } }],
    });
    expect(read?.samples.map((s) => s.at)).toEqual([1, 3]);
    expect(read?.samples[1]!.rejected).toEqual({ rate_limited: 2 });
    expect(readStats({ intervalMs: 0, windowMs: 1, samples: [] })).toBeNull();
    expect(readStats("nope")).toBeNull();
  });

  it("merges polls into a time-ordered history bounded by the window", () => {
    const first = mergeStats(null, { intervalMs: 1000, windowMs: 3000, samples: [sample(1000), sample(2000)] });
    const second = mergeStats(first, { intervalMs: 1000, windowMs: 3000, samples: [sample(2000), sample(3000), sample(4000), sample(5000)] });
    expect(second.samples.map((s) => s.at)).toEqual([2000, 3000, 4000, 5000]);
  });

  it("rounds the y axis up to 1, 2 or 5 times a power of ten", () => {
    expect([0, 1, 3, 7, 10, 11, 180, 501].map(niceCeiling)).toEqual([1, 1, 5, 10, 10, 20, 200, 1000]);
  });

  it("orders refusal reasons by their totals", () => {
    const samples = [sample(1, { rejected: { a: 1, b: 5 } }), sample(2, { rejected: { a: 1, c: 9 } })];
    expect(topReasons(samples, 2)).toEqual(["c", "b"]);
  });

  it("stacks areas: each series starts where the one below ends", () => {
    const frame = { fromMs: 0, toMs: 100, width: 100, height: 10, yMax: 10 };
    const values = [
      [2, 4],
      [3, 6],
    ];
    expect(stackedMax(values)).toBe(10);
    const [lower, upper] = stackedAreaPaths([0, 100], values, frame);
    expect(lower).toBe("M0,8L100,6L100,10L0,10Z");
    expect(upper).toBe("M0,5L100,0L100,6L0,8Z");
    // A lone sample is a short step, not an empty path.
    expect(stackedAreaPaths([100], [[5]], frame)[0]).toBe("M98,5L100,5L100,10L98,10Z");
    expect(stackedAreaPaths([], [[], []], frame)).toEqual(["", ""]);
  });
});
