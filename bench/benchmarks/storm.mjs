// Benchmark 4: reconnect storm. N real agents (Node, `ws`) are connected to a
// collector; the collector is restarted (graceful stop, then a new process on
// the same port, data dir and secret); we time until every agent has been
// welcomed again with the same session id. In the same run, a bare ws server
// is timed accepting N connections opened at once.
import { createServer } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { startChild } from "../lib/ipc.mjs";
import { histogram, percentile, round, sleep } from "../lib/stats.mjs";
import { SOURCE_ADDRESSES } from "./ingest.mjs";
import { summarizeProfile } from "../lib/cpuprofile.mjs";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Splits `count` over load-generator processes, each with its own source addresses. */
function shares(count) {
  const processes = count >= 2_000 ? 2 : 1;
  return Array.from({ length: processes }, (_, i) => ({
    count: Math.floor(count / processes) + (i < count % processes ? 1 : 0),
    sources: SOURCE_ADDRESSES.filter((_, j) => j % processes === i),
  }));
}

/** Time for a bare ws server to accept `count` connections opened all at once. */
async function baselineAccept({ count, logDir }) {
  const server = startChild(here("../servers/ws-baseline.mjs"), { execArgv: ["--expose-gc"], logFile: join(logDir, "storm-baseline.server.log"), lifetimeMs: 5 * 60_000 });
  const parts = shares(count);
  const loadgens = parts.map((_, i) => startChild(here("../loadgen/loadgen.mjs"), { logFile: join(logDir, `storm-baseline.loadgen${i}.log`), lifetimeMs: 5 * 60_000 }));
  try {
    const { port } = await server.once("ready");
    // Every connection attempt at once, as agents whose backoff timers fire together would.
    const results = await Promise.all(
      loadgens.map((lg, i) =>
        lg.request(
          "connect",
          { kind: "protocol", url: `ws://127.0.0.1:${port}/`, count: parts[i].count, sources: parts[i].sources, concurrency: parts[i].count, awaitWelcome: false, timeoutMs: 60_000, deadlineMs: 120_000 },
          180_000,
        ),
      ),
    );
    const stats = await server.request("stats");
    return {
      acceptMs: Math.max(...results.map((r) => r.elapsedMs)),
      connected: results.reduce((s, r) => s + r.connected, 0),
      failures: results.reduce((s, r) => s + r.connectFailures, 0),
      serverAccepted: stats.accepted,
      loadGenerators: loadgens.length,
    };
  } finally {
    await Promise.all(loadgens.map((lg) => lg.stop()));
    await server.stop();
  }
}

function startCollector({ port, dataDir, secret, logDir, name }) {
  return startChild(here("../servers/collector.mjs"), {
    execArgv: ["--expose-gc"],
    env: { BENCH_PORT: String(port), BENCH_DATA_DIR: dataDir, BENCH_SECRET: secret },
    logFile: join(logDir, `storm-${name}.server.log`),
    lifetimeMs: 10 * 60_000,
  });
}

export async function runStorm({ agents: count, deadlineMs, logDir }) {
  const baseline = await baselineAccept({ count, logDir });
  if (baseline.connected < count) throw new Error(`the bare ws baseline accepted only ${baseline.connected} of ${count} connections`);

  const port = await freePort();
  const dataDir = mkdtempSync(join(logDir, "storm-data-"));
  const secret = randomBytes(32).toString("base64url");
  let collector = startCollector({ port, dataDir, secret, logDir, name: "collector1" });
  const parts = shares(count);
  const agentProcs = parts.map((_, i) =>
    startChild(here("../loadgen/agents.mjs"), { execArgv: ["--max-old-space-size=4096"], logFile: join(logDir, `storm-agents${i}.log`), lifetimeMs: 10 * 60_000 }),
  );
  const all = (cmd, args = {}, timeoutMs = 60_000) => Promise.all(agentProcs.map((p, i) => p.request(cmd, typeof args === "function" ? args(i) : args, timeoutMs)));
  try {
    const ready1 = await collector.once("ready", 60_000);
    const url = `ws://127.0.0.1:${port}${ready1.path ?? "/ws"}`;
    const startedParts = await all("start", (i) => ({ url, count: parts[i].count, sources: parts[i].sources, ratePerSecond: 1_000 / parts.length, timeoutMs: 180_000 }), 300_000);
    const started = { welcomed: startedParts.reduce((s, p) => s + p.welcomed, 0), elapsedMs: Math.max(...startedParts.map((p) => p.elapsedMs)) };
    if (started.welcomed < count) throw new Error(`only ${started.welcomed} of ${count} agents were welcomed before the restart`);
    // Let every agent settle (first heartbeats, snapshot written) before the restart.
    await sleep(3_000);
    await all("mark");

    const stopAt = Date.now();
    const { closeMs } = await collector.request("close", { profileTo: join(logDir, "storm-collector-close.cpuprofile") }, 60_000);
    await collector.stop(30_000);
    const stoppedAt = Date.now();
    collector = startCollector({ port, dataDir, secret, logDir, name: "collector2" });
    const ready2 = await collector.once("ready", 60_000);
    const readyAt = ready2.readyAt ?? Date.now();
    const cpuAtReady = await collector.request("cpu");

    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const pending = (await all("status")).reduce((s, p) => s + p.pending, 0);
      if (pending === 0 || Date.now() > deadline) break;
      await sleep(200);
    }
    const cpuAtEnd = await collector.request("cpu");
    const detailParts = await all("status", { details: true }, 120_000);
    const details = {
      resumed: detailParts.reduce((s, p) => s + p.resumed, 0),
      changed: detailParts.reduce((s, p) => s + p.changed, 0),
      pending: detailParts.reduce((s, p) => s + p.pending, 0),
      resumeTimes: detailParts.flatMap((p) => p.resumeTimes),
      attemptsAfterMark: detailParts.flatMap((p) => p.attemptsAfterMark),
      firstAttempts: detailParts.flatMap((p) => p.firstAttempts),
      handshakeMs: detailParts.flatMap((p) => p.handshakeMs),
      cpuMs: detailParts.reduce((s, p) => s + p.cpuMs, 0),
      loopDelayMs: { p99: Math.max(...detailParts.map((p) => p.loopDelayMs.p99)), max: Math.max(...detailParts.map((p) => p.loopDelayMs.max)) },
    };
    const collectorCpuMs = (cpuAtEnd.userUs - cpuAtReady.userUs + cpuAtEnd.systemUs - cpuAtReady.systemUs) / 1000;
    const collectorWallMs = Number(BigInt(cpuAtEnd.wallNs) - BigInt(cpuAtReady.wallNs)) / 1e6;
    const resumeFromReady = details.resumeTimes.map((t) => t - readyAt);
    const resumeAllMs = resumeFromReady.length ? Math.max(...resumeFromReady) : NaN;
    const bucketMs = Math.max(50, Math.ceil(Math.max(1, resumeAllMs) / 20 / 50) * 50);
    const attempts = details.attemptsAfterMark;
    return {
      agents: count,
      agentKind: "real agent (@sessionlens/agent startAgent in Node with the ws WebSocket)",
      baselineAcceptMs: baseline.acceptMs,
      baseline,
      initialConnectMs: started.elapsedMs,
      stopMs: stoppedAt - stopAt,
      closeMs: round(closeMs, 0),
      closeProfile: summarizeProfile(join(logDir, "storm-collector-close.cpuprofile"), { top: 8 }),
      downMs: readyAt - stoppedAt,
      resumeAllMs,
      resumeP50Ms: percentile(resumeFromReady, 50),
      resumeP99Ms: percentile(resumeFromReady, 99),
      resumeAllFromStopMs: resumeFromReady.length ? Math.max(...details.resumeTimes) - stopAt : NaN,
      resumed: details.resumed,
      changedIds: details.changed,
      notResumed: details.pending,
      lost: details.changed + details.pending,
      handshakeMs: { p50: percentile(details.handshakeMs, 50), p99: percentile(details.handshakeMs, 99), max: Math.max(...details.handshakeMs) },
      // Who was busy while agents came back: the restarted collector, or the process running the agents.
      collectorCpuMs: round(collectorCpuMs, 0),
      collectorBusy: round(collectorCpuMs / collectorWallMs, 2),
      agentProcesses: agentProcs.length,
      agentsProcessCpuMs: round(details.cpuMs, 0),
      agentsLoopDelayMs: { p99: round(details.loopDelayMs.p99, 1), max: round(details.loopDelayMs.max, 1) },
      attemptsPerAgent: { p50: percentile(attempts, 50), p99: percentile(attempts, 99), max: Math.max(...attempts) },
      histogram: histogram(resumeFromReady, bucketMs),
      firstAttemptHistogram: histogram(details.firstAttempts.map((t) => t - stopAt), bucketMs),
      histogramBucketMs: bucketMs,
      note: "times from the moment the restarted collector was listening; first attempts from the moment the old one was told to stop",
      ratio: round(resumeAllMs / baseline.acceptMs, 2),
    };
  } finally {
    await Promise.all(agentProcs.map((p) => p.stop(15_000)));
    await collector.stop(15_000);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
