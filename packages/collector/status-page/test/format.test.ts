import { describe, expect, it } from "vitest";
import { formatAgo, formatBytes, formatClock, formatDuration, toEpochMs } from "../src/format.js";

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [999, "0s"],
    [42_000, "42s"],
    [60_000, "1m 00s"],
    [5 * 60_000 + 3_000, "5m 03s"],
    [3_600_000, "1h 00m"],
    [3 * 3_600_000 + 7 * 60_000 + 59_000, "3h 07m"],
    [2 * 86_400_000 + 4 * 3_600_000, "2d 4h"],
    [-5, "0s"],
    [Number.NaN, "0s"],
  ])("%d ms is %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe("formatAgo", () => {
  it("says now under a second, else how long ago", () => {
    expect(formatAgo(0)).toBe("now");
    expect(formatAgo(999)).toBe("now");
    expect(formatAgo(12_500)).toBe("12s ago");
    expect(formatAgo(125_000)).toBe("2m 05s ago");
  });
});

describe("formatBytes", () => {
  it.each([
    [0, "0 B"],
    [1, "1 B"],
    [1023, "1023 B"],
    [1024, "1 KiB"],
    [1536, "1.5 KiB"],
    [10 * 1024, "10 KiB"],
    [64 * 1024, "64 KiB"],
    [1024 * 1024 - 1, "1 MiB"],
    [3.25 * 1024 * 1024, "3.3 MiB"],
    [5 * 1024 ** 4, "5 TiB"],
    [-1, "0 B"],
    [Number.POSITIVE_INFINITY, "0 B"],
  ])("%d bytes is %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe("formatClock and toEpochMs", () => {
  const options = { locale: "en-GB", timeZone: "UTC" };
  const now = Date.UTC(2025, 5, 3, 14, 30, 0);

  it("shows the time alone on the same day, with the date otherwise", () => {
    expect(formatClock(Date.UTC(2025, 5, 3, 9, 5, 7), now, options)).toBe("09:05:07");
    expect(formatClock(Date.UTC(2025, 5, 1, 23, 59, 1), now, options)).toMatch(/^1 Jun,? 23:59:01$/);
    expect(formatClock(Number.NaN, now, options)).toBe("—");
  });

  it("reads epoch milliseconds and ISO strings from the API", () => {
    expect(toEpochMs("2025-06-03T14:30:00.000Z")).toBe(now);
    expect(toEpochMs(now)).toBe(now);
    expect(toEpochMs("yesterday")).toBeNaN();
    expect(toEpochMs(null)).toBeNaN();
  });
});
