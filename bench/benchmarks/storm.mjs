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

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Time for a bare ws server to accept `count` connections opened all at once. */
async function baselineAccept({ count, logDir }) {
  const server = startChild(here("../servers/ws-baseline.mjs"), { execArgv: ["--expose-gc"], logFile: join(logDir, "storm-baseline.server.log"), lifetimeMs: 5 * 60_000 });
  const loadgen = startChild(here("../loadgen/loadgen.mjs"), { logFile: join(logDir, "storm-baseline.loadgen.log"), lifetimeMs: 5 * 60_000 });
  try {
    const { port } = await server.once("ready");
    // Every connection attempt at once, as agents whose backoff timers fire together would.
    const result = await loadgen.request(
      "connect",
      { kind: "protocol", url: `ws://127.0.0.1:${port}/`, count, sources: SOURCE_ADDRESSES, concurrency: count, awaitWelcome: false, timeoutMs: 60_000, deadlineMs: 120_000 },
      180_000,
    );
    const stats = await server.request("stats");
    return { acceptMs: result.elapsedMs, connected: result.connected, failures: result.connectFailures, serverAccepted: stats.accepted };
  } finally {
    await loadgen.stop();
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
  const agentsProc = startChild(here("../loadgen/agents.mjs"), { execArgv: ["--max-old-space-size=4096"], logFile: join(logDir, "storm-agents.log"), lifetimeMs: 10 * 60_000 });
  try {
    const ready1 = await collector.once("ready", 60_000);
    const url = `ws://127.0.0.1:${port}${ready1.path ?? "/ws"}`;
    const started = await agentsProc.request("start", { url, count, sources: SOURCE_ADDRESSES, ratePerSecond: 1_000, timeoutMs: 180_000 }, 300_000);
    if (started.welcomed < count) throw new Error(`only ${started.welcomed} of ${count} agents were welcomed before the restart`);
    // Let every agent settle (first heartbeats, snapshot written) before the restart.
    await sleep(3_000);
    await agentsProc.request("mark");

    const stopAt = Date.now();
    await collector.stop(30_000);
    const stoppedAt = Date.now();
    collector = startCollector({ port, dataDir, secret, logDir, name: "collector2" });
    const ready2 = await collector.once("ready", 60_000);
    const readyAt = ready2.readyAt ?? Date.now();

    let status;
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      status = await agentsProc.request("status");
      if (status.pending === 0 || Date.now() > deadline) break;
      await sleep(200);
    }
    const details = await agentsProc.request("status", { details: true }, 120_000);
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
      attemptsPerAgent: { p50: percentile(attempts, 50), p99: percentile(attempts, 99), max: Math.max(...attempts) },
      histogram: histogram(resumeFromReady, bucketMs),
      firstAttemptHistogram: histogram(details.firstAttempts.map((t) => t - stopAt), bucketMs),
      histogramBucketMs: bucketMs,
      note: "times from the moment the restarted collector was listening; first attempts from the moment the old one was told to stop",
      ratio: round(resumeAllMs / baseline.acceptMs, 2),
    };
  } finally {
    await agentsProc.stop(15_000);
    await collector.stop(15_000);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
