#!/usr/bin/env node
// SessionLens benchmarks: `node bench/run.mjs` (full) or `--quick` (smoke run).
// Writes bench/results/latest.json and latest.md (quick.json and quick.md in
// quick mode) and prints the verdict table. See bench/README.md.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { cpus, freemem, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { aggregateIngest, detailSections, ingestTable, markdownTable, verdictRows } from "./lib/report.mjs";
import { machineBusy, machineLoad, readPreviousResults, renderResultsMd } from "./lib/results-md.mjs";

const benchDir = fileURLToPath(new URL(".", import.meta.url));
const rootDir = join(benchDir, "..");
const resultsDir = join(benchDir, "results");

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    "no-build": { type: "boolean", default: false },
    reps: { type: "string" },
    out: { type: "string" },
    "storm-agents": { type: "string" },
    "restart-agents": { type: "string" },
    "no-results-md": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (flags.help) {
  console.log(`usage: node bench/run.mjs [--quick] [--only ingest,query,storm,restart,size,wire,redis,profile] [--reps N] [--no-build] [--out FILE.json]

  --quick           smoke run (small sizes, short windows; under a minute): checks that every
                    benchmark runs and produces numbers, not that targets are met
  --only            run only these benchmarks (a partial run never writes RESULTS.md); "profile"
                    (full runs only) profiles the collector at the largest ingest tier; "redis"
                    (two collectors on REDIS_URL, default redis://127.0.0.1:6379) is part of the
                    full run, not of the quick run unless named here
  --reps            repetitions of each ingest run (median is reported); default 3 full, 1 quick
  --storm-agents    agents in the reconnect storm; default 10000 full, 200 quick
  --restart-agents  agents in the SIGKILL restart; default 1000 full, 100 quick
  --no-build        never run "pnpm -r build"; fail if a package is not built
  --no-results-md   a full run of every benchmark does not rewrite bench/RESULTS.md
  --out             write the JSON here instead of bench/results/latest.json (quick.json with
                    --quick); RESULTS.md is not written either`);
  process.exit(0);
}

const FULL = {
  mode: "full",
  ingestPages: [5_000, 20_000],
  // collector-redis: the Redis store (REDIS_URL, default 127.0.0.1:6379), Redis's CPU beside it.
  ingestServers: ["ws", "collector", "collector-redis", "socketio"],
  heartbeatIntervalMs: 2_000,
  warmupMs: 5_000,
  // One whole period of the collector's keepalive frames (keepaliveMs, 30 s), and a multiple of its
  // other periodic work (counters file 10 s, stats sample 5 s): a shorter window holds all of a
  // keepalive round or none of it, and the figure swings with the phase (20 s: 1.14x-1.23x).
  measureMs: 30_000,
  reps: 3,
  query: { sessions: 100_000, users: 1_000, projects: 50, iterations: 2_000, scanIterations: 40, httpRequests: 400, httpScanRequests: 10 },
  // settleMs: from the last welcome to the restart; longer than the agent's 5 s "stable connection"
  // threshold, so every agent starts its backoff from scratch, as pages connected for a while do.
  storm: { agents: 10_000, deadlineMs: 120_000, settleMs: 6_000 },
  restart: { agents: 1_000, restartDelayMs: 1_000, deadlineMs: 120_000, settleMs: 6_000 },
  // One more collector ingest run at the largest tier under the sampling profiler: RESULTS.md
  // shows where the collector's time goes beside the figures it explains.
  profile: { server: "collector", top: 15 },
  // Two collectors on one Redis (bench/benchmarks/redis.mjs, 100,000 sessions), in its own process.
  redis: { quick: false, timeoutMs: 15 * 60_000 },
};
const QUICK = {
  mode: "quick",
  ingestPages: [200],
  ingestServers: ["ws", "collector", "socketio"],
  heartbeatIntervalMs: 1_000,
  warmupMs: 1_000,
  measureMs: 2_000,
  reps: 1,
  query: { sessions: 5_000, users: 50, projects: 10, iterations: 200, scanIterations: 5, httpRequests: 40, httpScanRequests: 2 },
  storm: { agents: 200, deadlineMs: 30_000, settleMs: 6_000 },
  restart: { agents: 100, restartDelayMs: 1_000, deadlineMs: 30_000, settleMs: 6_000 },
  profile: null,
  // Not in the quick run's default selection (CI's smoke test); `--only redis --quick` runs it small.
  redis: { quick: true, timeoutMs: 3 * 60_000 },
};
const config = { ...(flags.quick ? QUICK : FULL) };
if (flags.reps) config.reps = Math.max(1, Number(flags.reps));
if (flags["storm-agents"]) config.storm = { ...config.storm, agents: positiveInteger("--storm-agents", flags["storm-agents"]) };
if (flags["restart-agents"]) config.restart = { ...config.restart, agents: positiveInteger("--restart-agents", flags["restart-agents"]) };
const ALL = ["wire", "size", "query", "ingest", "storm", "restart", "redis", "profile"];
// The quick run is CI's smoke test: it leaves out the Redis benchmark unless --only names it.
const selected = flags.only ? flags.only.split(",").map((s) => s.trim()) : flags.quick ? ALL.filter((name) => name !== "redis") : ALL;
for (const name of selected) if (!ALL.includes(name)) fail(2, `unknown benchmark "${name}"; choose from ${ALL.join(", ")}`);

function positiveInteger(flag, text) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) fail(2, `${flag} takes a positive integer, not "${text}"`);
  return n;
}

function fail(code, message) {
  console.error(`bench: ${message}`);
  process.exit(code);
}

const log = (message) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

// --------------------------------------------------------------------------
// The packages under test must be built (the benchmark runs their dist/).

function newestMtime(dir) {
  let newest = 0;
  if (!existsSync(dir)) return 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function buildState() {
  const packages = {
    shared: { entry: "packages/shared/dist/index.js", src: "packages/shared/src" },
    collector: { entry: "packages/collector/dist/index.js", src: "packages/collector/src" },
    agent: { entry: "packages/agent/dist/index.js", src: "packages/agent/src", iife: "packages/agent/dist/sessionlens-agent.iife.js" },
  };
  const state = {};
  for (const [name, p] of Object.entries(packages)) {
    const entry = join(rootDir, p.entry);
    const built = existsSync(entry) && (!p.iife || existsSync(join(rootDir, p.iife)));
    const srcExists = existsSync(join(rootDir, p.src)) && readdirSync(join(rootDir, p.src)).length > 0;
    // Against the newest file of dist/: an incremental build (tsc -b) rewrites only what changed.
    const stale = built && newestMtime(join(rootDir, p.src)) > newestMtime(dirname(entry));
    state[name] = { built, stale, srcExists };
    // A developer may point the benchmark at another build (see README).
    const override = { collector: "BENCH_COLLECTOR_MODULE", agent: "BENCH_AGENT_MODULE" }[name];
    if (override && process.env[override]) state[name] = { built: true, stale: false, srcExists: true, override: process.env[override] };
  }
  return state;
}

function ensureBuilt() {
  let state = buildState();
  const needs = Object.entries(state).filter(([, s]) => s.srcExists && (!s.built || s.stale));
  if (needs.length > 0 && !flags["no-build"]) {
    log(`building the workspace (pnpm -r build): ${needs.map(([n, s]) => `${n} ${s.built ? "stale" : "not built"}`).join(", ")}`);
    // The pnpm that runs us (`pnpm bench`), else pnpm on the PATH, else pnpm 10 through npx.
    const execPath = process.env.npm_execpath ?? "";
    const args = ["-r", "--workspace-concurrency=1", "build"];
    let result = /pnpm/.test(execPath)
      ? spawnSync(process.execPath, [execPath, ...args], { cwd: rootDir, stdio: "inherit" })
      : spawnSync("pnpm", args, { cwd: rootDir, stdio: "inherit" });
    if (result.error) result = spawnSync("npx", ["-y", "pnpm@10", ...args], { cwd: rootDir, stdio: "inherit" });
    if (result.status !== 0) {
      console.error("bench: `pnpm -r build` failed; the benchmarks that need the collector or the agent will report ERROR.");
    }
    state = buildState();
    // A build that succeeded is current, even where it had nothing to rewrite (a source touched, not changed).
    if (result.status === 0) for (const s of Object.values(state)) s.stale = false;
  }
  return state;
}

// --------------------------------------------------------------------------

function machine() {
  let gitCommit = null;
  try {
    gitCommit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: rootDir, encoding: "utf8" }).trim();
  } catch {
    // not a git checkout
  }
  let cpuModel = cpus()[0]?.model ?? "unknown";
  try {
    cpuModel = readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? cpuModel;
  } catch {
    // not Linux
  }
  let nproc = cpus().length;
  try {
    nproc = Number(execFileSync("nproc", { encoding: "utf8" }).trim());
  } catch {
    // no nproc
  }
  // Uncommitted changes under packages/ end up in the build under test: name them.
  let uncommitted = [];
  try {
    uncommitted = execFileSync("git", ["status", "--porcelain", "--", "packages"], { cwd: rootDir, encoding: "utf8" }).split("\n").filter(Boolean);
  } catch {
    // not a git checkout
  }
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    nproc,
    cpuModel,
    memTotalGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    memFreeGiBAtStart: Math.round((freemem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
    gitCommit,
    uncommitted,
  };
}

/**
 * bench/benchmarks/redis.mjs in a child process (it starts two collectors in its own process):
 * its JSON comes back through the file named by --out, its output goes to logDir/redis.log.
 * A run without Redis resolves to `{ unavailable: "no Redis at ..." }`, not an error.
 */
function runRedisBenchmark({ quick, timeoutMs, logDir }) {
  const outFile = join(logDir, "redis.json");
  const logFile = join(logDir, "redis.log");
  const args = [join(benchDir, "benchmarks", "redis.mjs"), "--out", outFile, ...(quick ? ["--quick"] : [])];
  const out = openSync(logFile, "a");
  const child = spawn(process.execPath, args, { cwd: rootDir, stdio: ["ignore", out, out] });
  closeSync(out);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => (clearTimeout(timer), reject(error)));
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`bench/benchmarks/redis.mjs exited (code ${code}, signal ${signal}${signal === "SIGKILL" ? `, killed after ${timeoutMs / 1000} s` : ""}); see ${logFile}`));
      try {
        resolve(JSON.parse(readFileSync(outFile, "utf8")));
      } catch (error) {
        reject(new Error(`bench/benchmarks/redis.mjs wrote no readable JSON to ${outFile}: ${error.message}`));
      }
    });
  });
}

async function main() {
  const started = Date.now();
  mkdirSync(resultsDir, { recursive: true });
  const runId = new Date().toISOString().replace(/[:.]/g, "-");
  const logDir = join(resultsDir, "logs", runId);
  mkdirSync(logDir, { recursive: true });
  const loadBefore = machineLoad();
  const results = { meta: machine(), config: { ...config, selected }, build: null };
  log(`${config.mode} run: ${selected.join(", ")}; node ${results.meta.node}, ${results.meta.nproc} cores, load ${results.meta.loadAverageAtStart.join(" ")}`);
  results.build = ensureBuilt();

  const needCollector = results.build.collector.built ? null : "the collector is not built (packages/collector/dist/index.js missing); run pnpm -r build";
  const guard = async (name, fn) => {
    const t0 = Date.now();
    log(`${name}: start`);
    try {
      const value = await fn();
      log(`${name}: done in ${Math.round((Date.now() - t0) / 1000)} s`);
      return value;
    } catch (error) {
      log(`${name}: ERROR ${error?.stack ?? error}`);
      return { error: String(error?.message ?? error) };
    }
  };

  if (selected.includes("wire")) {
    const { runWire } = await import("./benchmarks/wire.mjs");
    results.wire = await guard("wire", () => runWire());
  }
  if (selected.includes("size")) {
    const { runAgentSize } = await import("./benchmarks/agent-size.mjs");
    results.size = await guard("size", () => runAgentSize());
  }
  if (selected.includes("query")) {
    const { runQuery } = await import("./benchmarks/query.mjs");
    results.query = await guard("query", async () => {
      if (needCollector) throw new Error(needCollector);
      return runQuery({ ...config.query, logDir });
    });
  }
  if (selected.includes("ingest")) {
    const { runIngest } = await import("./benchmarks/ingest.mjs");
    const runs = [];
    const errors = [];
    // Repetitions outermost, so drift in the machine's load spreads over every server.
    for (let rep = 1; rep <= config.reps; rep++) {
      for (const pages of config.ingestPages) {
        for (const server of config.ingestServers) {
          if (server.startsWith("collector") && needCollector) {
            if (rep === 1) errors.push({ server, pages, error: needCollector });
            continue;
          }
          const run = await guard(`ingest ${server} ${pages} pages (rep ${rep}/${config.reps})`, () =>
            runIngest({ server, pages, heartbeatIntervalMs: config.heartbeatIntervalMs, warmupMs: config.warmupMs, measureMs: config.measureMs, logDir, tag: `-rep${rep}` }),
          );
          if (run.error) errors.push({ server, pages, error: run.error });
          else {
            log(`  ${run.pages} pages, ${run.heartbeatRate} hb/s, ${run.cpuPerHeartbeatUs} µs CPU/hb, heap ${run.memory.heapPerPage} B/page, RSS ${run.memory.rssPerPage} B/page`);
            runs.push(run);
          }
        }
      }
    }
    results.ingest = { runs, errors, aggregate: aggregateIngest(runs) };
  }
  if (selected.includes("storm")) {
    const { runStorm } = await import("./benchmarks/storm.mjs");
    results.storm = await guard("storm", async () => {
      if (needCollector) throw new Error(needCollector);
      return runStorm({ ...config.storm, logDir });
    });
  }
  if (selected.includes("restart")) {
    const { runRestart } = await import("./benchmarks/storm.mjs");
    results.restart = await guard("restart", async () => {
      if (needCollector) throw new Error(needCollector);
      return runRestart({ ...config.restart, logDir });
    });
  }

  if (selected.includes("redis")) {
    results.redis = await guard("redis", async () => {
      if (needCollector) throw new Error(needCollector);
      return runRedisBenchmark({ ...config.redis, logDir });
    });
    if (results.redis.unavailable) log(`redis: ${results.redis.unavailable}; its rows say "not measured"`);
  }

  if (selected.includes("profile") && config.profile) {
    const { runIngest } = await import("./benchmarks/ingest.mjs");
    const { summarizeProfile } = await import("./lib/cpuprofile.mjs");
    const pages = Math.max(...config.ingestPages);
    results.profile = await guard(`profile ${config.profile.server} ${pages} pages`, async () => {
      if (needCollector) throw new Error(needCollector);
      const path = join(logDir, `profile-${config.profile.server}-${pages}.cpuprofile`);
      const run = await runIngest({ server: config.profile.server, pages, heartbeatIntervalMs: config.heartbeatIntervalMs, warmupMs: config.warmupMs, measureMs: config.measureMs, logDir, tag: "-profile", profileWindowTo: path });
      return { server: run.label, pages: run.pages, heartbeatRate: run.heartbeatRate, cpuPerHeartbeatUs: run.cpuPerHeartbeatUs, profile: path, summary: summarizeProfile(path, { top: config.profile.top }) };
    });
  }

  const loadAfter = machineLoad();
  results.meta.loadAverageAtEnd = loadAfter.loadAverage;
  results.meta.machineBusy = machineBusy(loadBefore, loadAfter);
  results.meta.durationS = Math.round((Date.now() - started) / 1000);
  results.verdicts = verdictRows(results);
  // A smoke run never overwrites the full run's figures.
  const baseName = config.mode === "quick" ? "quick" : "latest";
  const outJson = flags.out ?? join(resultsDir, `${baseName}.json`);
  const outMd = join(resultsDir, `${baseName}.md`);
  writeFileSync(outJson, JSON.stringify(results, null, 2));
  const md = [
    `# SessionLens benchmark — ${config.mode} run`,
    "",
    `${results.meta.date} · Node ${results.meta.node} · ${results.meta.nproc} × ${results.meta.cpuModel} · ${results.meta.memTotalGiB} GiB · load average ${results.meta.loadAverageAtStart.join(" ")} at start, ${results.meta.loadAverageAtEnd.join(" ")} at end · commit ${results.meta.gitCommit}${results.meta.uncommitted.length ? ` + ${results.meta.uncommitted.length} uncommitted file(s) under packages/` : ""} · ${results.meta.durationS} s`,
    "",
    markdownTable(results.verdicts),
    "",
    ...(results.ingest ? ["## Ingest runs", "", ingestTable(results), ""] : []),
    detailSections(results),
  ].join("\n");
  if (!flags.out) writeFileSync(outMd, md);
  console.log(`\n${markdownTable(results.verdicts)}\n`);
  log(`wrote ${outJson}${flags.out ? "" : ` and ${outMd}`} (${results.meta.durationS} s)`);
  // Only a full run of every benchmark speaks for the code: it alone rewrites RESULTS.md,
  // with the figures of the run it replaces beside its own.
  if (config.mode === "full" && !flags.only && !flags.out && !flags["no-results-md"]) {
    const resultsMd = join(benchDir, "RESULTS.md");
    writeFileSync(resultsMd, renderResultsMd(results, readPreviousResults(resultsMd)));
    log(`wrote ${resultsMd}`);
  }
  const errors = results.verdicts.filter((r) => r.verdict === "ERROR");
  if (errors.length > 0) {
    console.error(`bench: ${errors.length} figure(s) could not be measured: ${errors.map((e) => e.figure).join("; ")}`);
    process.exitCode = 1;
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
