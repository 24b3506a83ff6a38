// Benchmarks 1 and 2: ingest cost per heartbeat and memory per connected page
// for one server under test at one population size.
//
// Server and load generators are separate processes. The server reports its
// own CPU time (process.cpuUsage) and its memory after a full GC over IPC; the
// load generators open the pages and pace the heartbeats.
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { startChild } from "../lib/ipc.mjs";
import { sleep, round } from "../lib/stats.mjs";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

export const SERVERS = {
  ws: { label: "(a) bare ws + codec", module: here("../servers/ws-baseline.mjs"), client: "protocol", awaitWelcome: false },
  collector: { label: "(b) SessionLens collector", module: here("../servers/collector.mjs"), client: "protocol", awaitWelcome: true },
  // The collector with the Redis store (BENCH_REDIS_URL, default 127.0.0.1:6379; its keys are removed
  // at exit); Redis's own CPU over the window is reported beside the collector's.
  "collector-redis": {
    label: "(b') SessionLens collector, Redis store",
    module: here("../servers/collector.mjs"),
    client: "protocol",
    awaitWelcome: true,
    env: { BENCH_REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" },
  },
  socketio: { label: "(c) Socket.IO tracker", module: here("../servers/socketio-tracker.mjs"), client: "socketio", awaitWelcome: false },
};

/**
 * Loopback source addresses (127.0.0.10-129): 20,000 pages never run out of
 * ephemeral ports, and no address holds more than ~170 sockets, under the
 * collector's default per-address cap (256), as real clients would be.
 */
export const SOURCE_ADDRESSES = Array.from({ length: 120 }, (_, i) => `127.0.0.${10 + i}`);

/** Pages per load-generator process: well under the per-process file descriptor limit. */
const PAGES_PER_LOADGEN = 10_000;

/** File descriptors the server keeps for itself (stdio, IPC, epoll, listener...) plus margin. */
const SERVER_FD_RESERVE = 64;

/**
 * Runs one server at one size. Returns CPU per heartbeat, heap/RSS per page
 * and the evidence behind them (counts, utilisation, failures).
 */
export async function runIngest({ server, pages, heartbeatIntervalMs, warmupMs, measureMs, logDir, tag = "", serverExecArgv = [], profileWindowTo = null, heapSnapshotsTo = null }) {
  const spec = SERVERS[server];
  const name = `ingest-${server}-${pages}${tag}`;
  const proc = startChild(spec.module, {
    env: spec.env ?? {},
    execArgv: ["--expose-gc", ...serverExecArgv],
    logFile: join(logDir, `${name}.server.log`),
    lifetimeMs: 10 * 60_000,
  });
  const loadgens = [];
  try {
    const ready = await proc.once("ready", 60_000);
    const url = spec.client === "socketio" ? `http://127.0.0.1:${ready.port}` : `ws://127.0.0.1:${ready.port}${ready.path ?? "/"}`;
    // The server cannot hold more sockets than its file descriptor limit allows.
    let target = pages;
    let cappedBy = null;
    if (ready.fdLimit && ready.fds && pages > ready.fdLimit - ready.fds - SERVER_FD_RESERVE) {
      target = ready.fdLimit - ready.fds - SERVER_FD_RESERVE;
      target -= target % 100;
      cappedBy = `RLIMIT_NOFILE ${ready.fdLimit} of the server process (hard limit; raising it is not permitted here)`;
    }
    await sleep(500);
    const memBefore = await proc.request("mem");
    if (heapSnapshotsTo) await proc.request("heapSnapshot", { path: join(heapSnapshotsTo, "before.heapsnapshot") }, 300_000);

    const shares = [];
    for (let left = target; left > 0; left -= PAGES_PER_LOADGEN) shares.push(Math.min(left, PAGES_PER_LOADGEN));
    shares.forEach((_, i) => {
      loadgens.push(
        startChild(here("../loadgen/loadgen.mjs"), {
          execArgv: ["--max-old-space-size=4096"],
          logFile: join(logDir, `${name}.loadgen${i}.log`),
          lifetimeMs: 10 * 60_000,
        }),
      );
    });
    const connectStarted = Date.now();
    const connected = await Promise.all(
      loadgens.map((lg, i) =>
        lg.request(
          "connect",
          {
            kind: spec.client,
            url,
            count: shares[i],
            // Each load generator gets its own source addresses.
            sources: SOURCE_ADDRESSES.filter((_, j) => j % loadgens.length === i),
            awaitWelcome: spec.awaitWelcome,
            concurrency: 100,
            seed: 7 + i,
            deadlineMs: 240_000,
          },
          300_000,
        ),
      ),
    );
    const connectMs = Date.now() - connectStarted;
    const pagesConnected = connected.reduce((s, c) => s + c.connected, 0);
    const connectFailures = connected.reduce((s, c) => s + c.connectFailures, 0);
    if (pagesConnected === 0) throw new Error(`no page could connect: ${connected.map((c) => c.lastConnectError).join("; ")}`);

    // Paced heartbeats: every page once per heartbeatIntervalMs, spread evenly.
    await Promise.all(loadgens.map((lg, i) => lg.request("pace", { kind: spec.client, ratePerSecond: (connected[i].connected * 1000) / heartbeatIntervalMs })));
    await sleep(warmupMs);
    const sample = async () => {
      const [cpu, stats, counters] = await Promise.all([
        proc.request("cpu"),
        proc.request("stats").catch(() => null),
        Promise.all(loadgens.map((lg) => lg.request("counters"))),
      ]);
      return { cpu, stats, sent: counters.reduce((s, c) => s + c.heartbeatsSent, 0), counters };
    };
    if (profileWindowTo) await proc.request("profileStart");
    const start = await sample();
    await sleep(measureMs);
    const end = await sample();
    if (profileWindowTo) await proc.request("profileStop", { path: profileWindowTo }, 120_000);
    await Promise.all(loadgens.map((lg) => lg.request("stopPacing")));
    await sleep(1000);
    const memAfter = await proc.request("mem", {}, 120_000);
    if (heapSnapshotsTo) await proc.request("heapSnapshot", { path: join(heapSnapshotsTo, "after.heapsnapshot") }, 300_000);
    const finalCounters = await Promise.all(loadgens.map((lg) => lg.request("counters")));

    const cpuUs = end.cpu.userUs - start.cpu.userUs + (end.cpu.systemUs - start.cpu.systemUs);
    const wallUs = Number(BigInt(end.cpu.wallNs) - BigInt(start.cpu.wallNs)) / 1000;
    const heartbeatsSent = end.sent - start.sent;
    // Prefer what the server itself counted; the collector's count comes from its metrics.
    const heartbeatsReceived = end.stats?.frames != null && start.stats?.frames != null ? end.stats.frames - start.stats.frames : null;
    const heartbeats = heartbeatsReceived ?? heartbeatsSent;
    const openAtEnd = finalCounters.reduce((s, c) => s + c.open, 0);
    return {
      server,
      label: spec.label,
      pagesRequested: pages,
      pages: pagesConnected,
      cappedBy,
      connectFailures,
      connectMs,
      openAtEnd,
      closedUnexpectedly: finalCounters.reduce((s, c) => s + c.closedUnexpectedly, 0),
      serverErrors: finalCounters.reduce((s, c) => s + c.serverErrors, 0),
      serverErrorCodes: Object.assign({}, ...finalCounters.map((c) => c.serverErrorCodes)),
      heartbeatIntervalMs,
      measureMs: round(wallUs / 1000, 0),
      heartbeatsSent,
      heartbeatsReceived,
      heartbeatRate: round(heartbeats / (wallUs / 1e6), 0),
      cpuUs,
      cpuUserUs: end.cpu.userUs - start.cpu.userUs,
      cpuSystemUs: end.cpu.systemUs - start.cpu.systemUs,
      cpuUtilisation: round(cpuUs / wallUs, 3),
      cpuPerHeartbeatUs: round(cpuUs / heartbeats, 3),
      ...(end.stats?.redisCpuUs != null && start.stats?.redisCpuUs != null
        ? { redisCpuPerHeartbeatUs: round((end.stats.redisCpuUs - start.stats.redisCpuUs) / heartbeats, 3) }
        : {}),
      pacingLagMaxMs: Math.max(...finalCounters.map((c) => c.pacingLagMaxMs)),
      memory: {
        before: memBefore,
        after: memAfter,
        heapPerPage: round((memAfter.heapUsed - memBefore.heapUsed) / pagesConnected, 0),
        rssPerPage: round((memAfter.rss - memBefore.rss) / pagesConnected, 0),
        externalPerPage: round((memAfter.external - memBefore.external) / pagesConnected, 0),
      },
    };
  } finally {
    await Promise.all(loadgens.map((lg) => lg.stop(10_000)));
    await proc.stop(10_000);
  }
}
