import { describe, expect, it } from "vitest";
import { StatsHistory, type StatsReading, type StatsTally } from "../../src/http/stats.js";
import { eventually, fakeTimers, ManualClock } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";

function source() {
  const reading: StatsReading & { tallies: StatsTally[]; rejected: Map<string, number> } = { tallies: [], bytesReported: 0, rejected: new Map() };
  return { reading, read: () => reading };
}

describe("StatsHistory", () => {
  it("turns cumulative counters into bytes per second and refusals per interval", () => {
    const clock = new ManualClock();
    const { reading, read } = source();
    const history = new StatsHistory({ clock, scheduler: clock, intervalMs: 5_000, windowMs: 60_000, read });
    expect(history.sample()).toMatchObject({ bytesPerSecond: 0, rejected: {} });

    clock.advance(5_000);
    reading.bytesReported = 10_000;
    // Tallies come by scope and project: they are summed by scope.
    reading.tallies = [
      { scope: "browser", sessions: 1, pages: 2 },
      { scope: "android", sessions: 1, pages: 1 },
      { scope: "browser", sessions: 1, pages: 1 },
    ];
    reading.rejected.set("rate_limited", 4);
    expect(history.sample()).toEqual({
      at: clock.now(),
      sessions: { browser: 2, ios: 0, android: 1, designer: 0 },
      pages: { browser: 3, ios: 0, android: 1, designer: 0 },
      bytesPerSecond: 2_000,
      rejected: { rate_limited: 4 },
    });

    clock.advance(5_000);
    reading.rejected.set("origin_not_allowed", 1);
    expect(history.sample()).toMatchObject({ bytesPerSecond: 0, rejected: { origin_not_allowed: 1 } });
  });

  it("keeps a bounded window, oldest first", () => {
    const clock = new ManualClock();
    const { reading, read } = source();
    const history = new StatsHistory({ clock, scheduler: clock, intervalMs: 1_000, windowMs: 10_000, read });
    for (let i = 0; i < 50; i++) {
      reading.tallies = [{ scope: "browser", sessions: i, pages: i }];
      history.sample();
      clock.advance(1_000);
    }
    const { samples, intervalMs, windowMs } = history.snapshot();
    expect({ intervalMs, windowMs }).toEqual({ intervalMs: 1_000, windowMs: 10_000 });
    expect(samples.map((sample) => sample.sessions.browser)).toEqual([39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49]);
    expect(samples.at(-1)!.at - samples[0]!.at).toBe(10_000);
    // Only what a poller has not seen yet.
    expect(history.snapshot(samples.at(-3)!.at).samples.map((sample) => sample.sessions.browser)).toEqual([48, 49]);
    expect(history.snapshot(samples.at(-1)!.at).samples).toEqual([]);
  });

  it("rejects a non-positive interval or window", () => {
    const { read } = source();
    const clock = new ManualClock();
    expect(() => new StatsHistory({ clock, scheduler: clock, intervalMs: 0, read })).toThrow(RangeError);
    expect(() => new StatsHistory({ clock, scheduler: clock, windowMs: -1, read })).toThrow(RangeError);
  });

  it("samples on its scheduler from start() until stop()", () => {
    const clock = new ManualClock();
    const { reading, read } = source();
    const history = new StatsHistory({ clock, scheduler: clock, intervalMs: 1_000, windowMs: 60_000, read });
    history.start();
    expect(history.snapshot().samples).toHaveLength(1);
    reading.tallies = [{ scope: "ios", sessions: 1, pages: 1 }];
    clock.advance(3_000);
    clock.advance(1_000);
    expect(history.snapshot().samples.map((sample) => sample.sessions.ios)).toEqual([0, 1, 1]);
    history.stop();
    expect(clock.pendingTimers).toBe(0);
  });
});

describe("GET /api/v1/stats", () => {
  const t = useCollector();

  it("samples the collector's sessions, pages and bytes on its interval", async () => {
    await t.start(...fakeTimers({ statsIntervalMs: 1_000 }));
    const first = await t.join({ bytes: 0 });
    await t.join({ resume: first.welcome!.resume });
    await t.join({ scope: "android", project: "Other" });
    first.heartbeat(5_000);
    // The heartbeat arrives over a real socket; then one interval later a sample holds it.
    await eventually(async () => expect((await t.collector.getSessionInfo()).some((session) => session.totalBytesSent > 0)).toBe(true));
    t.clock.advance(1_000);
    const stats = (await (await fetch(`${t.url}/api/v1/stats`)).json()) as {
      intervalMs: number;
      samples: { at: number; sessions: Record<string, number>; pages: Record<string, number>; bytesPerSecond: number }[];
    };
    expect(stats.intervalMs).toBe(1_000);
    const latest = stats.samples.at(-1)!;
    expect(latest.at).toBe(t.clock.now());
    expect(latest.sessions).toEqual({ browser: 1, ios: 0, android: 1, designer: 0 });
    expect(latest.pages).toEqual({ browser: 2, ios: 0, android: 1, designer: 0 });
    expect(latest.bytesPerSecond).toBe(5_000);
    const bad = await fetch(`${t.url}/api/v1/stats?since=yesterday`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("bad_request");
  });
});
