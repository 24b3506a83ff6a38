import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// Smoke test of `pnpm bench:quick`: every benchmark runs and produces finite
// numbers. It never asserts a target: timings on a shared CI machine are noise.

const runner = fileURLToPath(new URL("../run.mjs", import.meta.url));
const outDir = mkdtempSync(join(tmpdir(), "sessionlens-bench-test-"));
const outFile = join(outDir, "quick.json");

interface Summary {
  p50: number;
  p99: number;
}
interface QuickResults {
  verdicts: { section: string; figure: string; verdict: string; detail: string }[];
  ingest: { aggregate: Record<string, { cpuPerHeartbeatUs: number; heapPerPage: number; rssPerPage: number; pages: number }> };
  query: { sessions: number; inProcess: Record<string, Summary>; http: Record<string, Summary>; streaming: { bodyBytes: number; largestWriteBytes: number } };
  storm: { agents: number; resumeAllMs: number; baselineAcceptMs: number; lost: number; histogram: { count: number }[] };
  restart: { agents: number; resumeP50Ms: number; resumeP99Ms: number; lost: number; histogram: { count: number }[]; closeCodes: Record<string, number> };
  size: { ours: { iife: { gzipBytes: number } }; peers: { name: string; gzipBytes: number }[] };
  wire: { codec: { heartbeatWire: number; helloWire: number }; agent: { heartbeatWire: number; helloWire: number } };
}

function runQuick(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // --no-build: the test suite runs after `pnpm build`; a missing build is reported, not made here.
    const child = spawn(process.execPath, [runner, "--quick", "--no-build", "--out", outFile], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 110_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const finitePositive = (value: number): void => {
  expect(Number.isFinite(value)).toBe(true);
  expect(value).toBeGreaterThan(0);
};

describe("pnpm bench:quick", () => {
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it("runs every benchmark and produces finite numbers", { timeout: 115_000 }, async () => {
    const { code, output } = await runQuick();
    expect(code, output.slice(-4000)).toBe(0);
    const results = JSON.parse(readFileSync(outFile, "utf8")) as QuickResults;

    const errors = results.verdicts.filter((row) => row.verdict === "ERROR");
    expect(errors, JSON.stringify(errors, null, 2)).toEqual([]);
    // Every figure carries a verdict or is marked informational.
    for (const row of results.verdicts) expect(["PASS", "MISS", "n/a"]).toContain(row.verdict);

    // 1-2: ingest and memory for all three servers
    for (const server of ["ws", "collector", "socketio"]) {
      const entry = Object.entries(results.ingest.aggregate).find(([key]) => key.startsWith(`${server}:`))?.[1];
      expect(entry, `no ingest figures for ${server}`).toBeDefined();
      finitePositive(entry!.cpuPerHeartbeatUs);
      finitePositive(entry!.pages);
      expect(Number.isFinite(entry!.heapPerPage)).toBe(true);
      expect(Number.isFinite(entry!.rssPerPage)).toBe(true);
    }

    // 3: query latency, in-process and over HTTP
    for (const name of ["unfiltered", "username", "project", "both", "wildcard"]) {
      finitePositive(results.query.inProcess[name]!.p99);
      finitePositive(results.query.http[name]!.p99);
    }
    finitePositive(results.query.streaming.bodyBytes);
    finitePositive(results.query.streaming.largestWriteBytes);

    // 4: reconnect storm with its histogram
    finitePositive(results.storm.resumeAllMs);
    finitePositive(results.storm.baselineAcceptMs);
    expect(Number.isInteger(results.storm.lost)).toBe(true);
    expect(results.storm.histogram.reduce((sum, bucket) => sum + bucket.count, 0)).toBeGreaterThan(0);

    // 4b: restart after SIGKILL, p50/p99 with a histogram covering every resumed agent
    finitePositive(results.restart.agents);
    expect(Number.isFinite(results.restart.resumeP50Ms)).toBe(true);
    expect(Number.isFinite(results.restart.resumeP99Ms)).toBe(true);
    expect(results.restart.resumeP99Ms).toBeGreaterThanOrEqual(results.restart.resumeP50Ms);
    expect(Number.isInteger(results.restart.lost)).toBe(true);
    expect(results.restart.histogram.reduce((sum, bucket) => sum + bucket.count, 0)).toBe(results.restart.agents - results.restart.lost);
    // The old collector was killed, not closed: no agent saw a close frame from it.
    expect(Object.keys(results.restart.closeCodes)).toEqual(["1006"]);

    // 5: sizes and wire bytes
    finitePositive(results.size.ours.iife.gzipBytes);
    expect(results.size.peers).toHaveLength(4);
    for (const peer of results.size.peers) finitePositive(peer.gzipBytes);
    finitePositive(results.wire.codec.heartbeatWire);
    finitePositive(results.wire.agent.heartbeatWire);
    finitePositive(results.wire.agent.helloWire);
  });
});
