// Benchmark 4: reconnect storm and restart. N real agents (Node, `ws`) are
// connected to a collector; the collector is restarted on the same port, data
// dir and secret, either gracefully (4a, the storm: timed until every agent is
// welcomed again with the same session id, against a bare ws server accepting
// N connections opened at once) or by SIGKILL and a new process 1 s later (4b:
// p50/p99 of each agent's resume, as a deploy that crashes would see it).
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

/**
 * Starts `count` real agents against a collector, restarts the collector (`how`: "graceful" =
 * collector.close() then a new process; "kill" = SIGKILL, then a new process `restartDelayMs`
 * after the kill) and times, from the moment the new collector listens, each agent's welcome
 * with its old session id.
 */
async function restartCycle({ count, how, restartDelayMs = 0, settleMs, deadlineMs, logDir, name }) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(logDir, `${name}-data-`));
  const secret = randomBytes(32).toString("base64url");
  let collector = startCollector({ port, dataDir, secret, logDir, name: `${name}-collector1` });
  const parts = shares(count);
  const agentProcs = parts.map((_, i) =>
    startChild(here("../loadgen/agents.mjs"), { execArgv: ["--max-old-space-size=4096"], logFile: join(logDir, `${name}-agents${i}.log`), lifetimeMs: 10 * 60_000 }),
  );
  const all = (cmd, args = {}, timeoutMs = 60_000) => Promise.all(agentProcs.map((p, i) => p.request(cmd, typeof args === "function" ? args(i) : args, timeoutMs)));
  try {
    const ready1 = await collector.once("ready", 60_000);
    const url = `ws://127.0.0.1:${port}${ready1.path ?? "/ws"}`;
    const startedParts = await all("start", (i) => ({ url, count: parts[i].count, sources: parts[i].sources, ratePerSecond: 1_000 / parts.length, timeoutMs: 180_000 }), 300_000);
    const started = { welcomed: startedParts.reduce((s, p) => s + p.welcomed, 0), elapsedMs: Math.max(...startedParts.map((p) => p.elapsedMs)) };
    if (started.welcomed < count) throw new Error(`only ${started.welcomed} of ${count} agents were welcomed before the restart`);
    // Let every agent settle (first heartbeats, snapshot written) before the restart, and stay
    // connected longer than the agent's "stable connection" threshold (5 s): a connection dropped
    // sooner continues its backoff instead of starting it over, which pages connected for a while
    // never see.
    await sleep(settleMs);
    await all("mark");

    const stopAt = Date.now();
    let closeMs = null;
    let closeProfile = null;
    if (how === "graceful") {
      closeMs = (await collector.request("close", { profileTo: join(logDir, `${name}-collector-close.cpuprofile`) }, 60_000)).closeMs;
      await collector.stop(30_000);
      closeProfile = summarizeProfile(join(logDir, `${name}-collector-close.cpuprofile`), { top: 8 });
    } else {
      await collector.kill("SIGKILL");
      const wait = stopAt + restartDelayMs - Date.now();
      if (wait > 0) await sleep(wait);
    }
    const stoppedAt = Date.now();
    collector = startCollector({ port, dataDir, secret, logDir, name: `${name}-collector2` });
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
      closeCodes: mergeCounts(detailParts.map((p) => p.closeCodes ?? {})),
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
      how,
      restartDelayMs: how === "kill" ? restartDelayMs : null,
      initialConnectMs: started.elapsedMs,
      stopMs: stoppedAt - stopAt,
      closeMs: closeMs === null ? null : round(closeMs, 0),
      closeProfile,
      downMs: readyAt - stoppedAt,
      listeningAfterStopMs: readyAt - stopAt,
      resumeAllMs,
      resumeP50Ms: percentile(resumeFromReady, 50),
      resumeP99Ms: percentile(resumeFromReady, 99),
      resumeAllFromStopMs: resumeFromReady.length ? Math.max(...details.resumeTimes) - stopAt : NaN,
      resumed: details.resumed,
      changedIds: details.changed,
      notResumed: details.pending,
      lost: details.changed + details.pending,
      // How the agents saw the old collector go: close codes of the sockets it closed.
      closeCodes: details.closeCodes,
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
      note: "times from the moment the restarted collector was listening; first attempts from the moment the old one was told to stop (or killed)",
    };
  } finally {
    await Promise.all(agentProcs.map((p) => p.stop(15_000)));
    await collector.stop(15_000);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function mergeCounts(list) {
  const out = {};
  for (const counts of list) for (const [key, n] of Object.entries(counts)) out[key] = (out[key] ?? 0) + n;
  return out;
}

/** Benchmark 4: graceful restart of a collector holding `agents` agents, against a bare ws server's accept time. */
export async function runStorm({ agents: count, deadlineMs, settleMs = 6_000, logDir }) {
  const baseline = await baselineAccept({ count, logDir });
  if (baseline.connected < count) throw new Error(`the bare ws baseline accepted only ${baseline.connected} of ${count} connections`);
  const cycle = await restartCycle({ count, how: "graceful", settleMs, deadlineMs, logDir, name: "storm" });
  return { ...cycle, baselineAcceptMs: baseline.acceptMs, baseline, ratio: round(cycle.resumeAllMs / baseline.acceptMs, 2) };
}

/** Benchmark 4b: SIGKILL, a new collector `restartDelayMs` later; p50/p99 of each session's resume. */
export async function runRestart({ agents: count, restartDelayMs, deadlineMs, settleMs = 6_000, logDir }) {
  return restartCycle({ count, how: "kill", restartDelayMs, settleMs, deadlineMs, logDir, name: "restart" });
}
