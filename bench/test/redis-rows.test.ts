import { describe, expect, it } from "vitest";
// @ts-expect-error -- a plain ES module of the benchmark runner, without type declarations
import { verdictRows } from "../lib/report.mjs";

// The Redis benchmark's verdict rows (bench/benchmarks/redis.mjs, run by bench/run.mjs in the full run).

interface Row {
  key: string | null;
  figure: string;
  measured: string;
  target: string;
  verdict: string;
}
const rowsOf = (redis: unknown): Row[] => (verdictRows({ redis }) as Row[]).filter((row) => row.key?.startsWith("redis.") || row.verdict === "ERROR");
const summary = (p99: number) => ({ n: 10, p50: p99 / 2, p90: p99, p99, max: p99 });
const sizes = { sessions: 100_000, users: 1_000 };

describe("Redis benchmark rows", () => {
  it("give a verdict on each target and show the other queries as context", () => {
    const rows = rowsOf({ sizes, matchesPerQuery: 100, queryDirectRedis: summary(9), queryReplicaInProcess: summary(0.5), queryReplicaHttp: summary(25), crossNodeCommand: summary(3), eventPropagation: summary(1_200) });
    expect(rows.map((row) => [row.key, row.target, row.verdict])).toEqual([
      ["redis.query.http", "<= 20 ms", "MISS"],
      ["redis.query.inprocess", "-", "n/a"],
      ["redis.query.direct", "-", "n/a"],
      ["redis.command", "<= 100 ms", "PASS"],
      ["redis.propagation", "<= 1 s", "MISS"],
    ]);
    expect(rows[0]!.figure).toContain("100,000 sessions, 100 matches");
    expect(rows[0]!.measured).toBe("25 ms");
  });

  it('say "not measured" when no Redis answered', () => {
    const rows = rowsOf({ sizes, unavailable: "no Redis at redis://127.0.0.1:6379 (ECONNREFUSED)" });
    expect(rows).toHaveLength(5);
    for (const row of rows) {
      expect(row.verdict).toBe("n/a");
      expect(row.measured).toBe("not measured: no Redis at redis://127.0.0.1:6379 (ECONNREFUSED)");
    }
  });

  it("are ERROR rows when the benchmark failed, and absent when it did not run", () => {
    expect(rowsOf({ error: "redis.mjs exited (code 1)" }).map((row) => row.verdict)).toEqual(Array(5).fill("ERROR"));
    expect(rowsOf(undefined)).toEqual([]);
  });
});
