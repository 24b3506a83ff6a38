import { describe, expect, it } from "vitest";
import { MAX_NUMBER_BYTES, maxStringBytes, numberBytes, writeNumber, writeString } from "../src/json-bytes.js";

const asNumber = (value: number): string => {
  const out = Buffer.alloc(MAX_NUMBER_BYTES);
  const end = writeNumber(out, 0, value);
  expect(end).toBe(numberBytes(value));
  return out.toString("latin1", 0, end);
};

const asString = (value: string): string => {
  const out = Buffer.alloc(maxStringBytes(value));
  return out.toString("utf8", 0, writeString(out, 0, value));
};

describe("json-bytes", () => {
  it("writes every number as JSON.stringify does, at every magnitude and across the 2^31 and 10^9 boundaries", () => {
    const values = [0, -0, 1, 9, 10, 99, 100, 999_999_999, 1e9, 1e9 + 1, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 1_764_000_000_123, 2 ** 53 - 1, 2 ** 53, 2 ** 60, 12.5, -3, 1e21, 5e-7, Number.NaN, Number.POSITIVE_INFINITY];
    // Every digit-count boundary: 9 and 10, 99 and 100, … up to 10^15.
    for (let power = 1; power <= 1e15; power *= 10) values.push(power - 1, power, power + 1);
    let seed = 7;
    for (let i = 0; i < 2_000; i++) {
      seed = (seed * 48_271) % 2_147_483_647;
      values.push(Math.floor((seed / 2_147_483_647) * 2 ** (1 + (i % 53))));
    }
    for (const value of values) expect(asNumber(value)).toBe(JSON.stringify(value) ?? "null");
  });

  it("writes strings as JSON.stringify does: plain ASCII copied, quotes, backslashes, controls and non-ASCII escaped or encoded", () => {
    for (const value of ["", "s-1", "Ab_9-z", 'say "hi"', "back\\slash", "line\nbreak", "\u0000\u001f", "ünïcödé", "日本 🙂", "\u2028", "\ud800 lone", "~\u007f"]) {
      expect(asString(value)).toBe(JSON.stringify(value));
    }
  });
});
