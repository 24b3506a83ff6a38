// (b) The SessionLens collector as users run it: createCollector() with its
// defaults (embedded in-memory store, durable in a data dir), listening on
// loopback. Only the port, data dir and secret are set by the benchmark.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { serveServer, profileStart, profileStop } from "../lib/server-process.mjs";

// BENCH_COLLECTOR_MODULE lets a developer point at another build of the collector.
const { createCollector } = await import(process.env.BENCH_COLLECTOR_MODULE ?? "@sessionlens/collector");

// A data dir of our own (none given) is removed when the process exits.
const ownDataDir = process.env.BENCH_DATA_DIR || process.env.BENCH_NO_DATA_DIR === "1" ? null : mkdtempSync(join(tmpdir(), "sessionlens-bench-"));
if (ownDataDir) process.on("exit", () => rmSync(ownDataDir, { recursive: true, force: true }));

const redisUrl = process.env.BENCH_REDIS_URL || null;
const redisPrefix = `slbench-ingest:${process.pid}:`;
/** Redis for the CPU it spends (INFO cpu) and to remove this run's keys. */
const redis = redisUrl ? await redisTools(redisUrl) : null;

async function redisTools(url) {
  const { createRedisConnection } = await import(new URL("../../packages/collector/dist/store/redis-connection.js", import.meta.url).href);
  const connection = createRedisConnection({ url });
  await connection.connect();
  return {
    async cpuUs() {
      const info = await connection.command(undefined, ["INFO", "cpu"]);
      const field = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
      return Math.round((field("used_cpu_user") + field("used_cpu_sys")) * 1e6);
    },
    async removeKeys() {
      let cursor = "0";
      do {
        const [next, keys] = await connection.command(undefined, ["SCAN", cursor, "MATCH", `${redisPrefix}*`, "COUNT", "1000"]);
        cursor = String(next);
        if (keys.length > 0) await connection.command(undefined, ["UNLINK", ...keys]);
      } while (cursor !== "0");
      await connection.close();
    },
  };
}

const collector = createCollector({
  host: process.env.BENCH_HOST ?? "127.0.0.1",
  port: Number(process.env.BENCH_PORT ?? 0),
  // BENCH_NO_DATA_DIR=1 (diagnosis only): nothing durable, to see what the snapshot costs.
  dataDir: process.env.BENCH_NO_DATA_DIR === "1" ? null : (process.env.BENCH_DATA_DIR ?? ownDataDir),
  ...(process.env.BENCH_SECRET ? { secret: process.env.BENCH_SECRET } : {}),
  // BENCH_REDIS_URL: the Redis store (several collectors' setup), under a prefix of this run.
  ...(redisUrl ? { redis: { url: redisUrl, prefix: redisPrefix, nodeId: "bench" } } : {}),
  // BENCH_COLLECTOR_OPTIONS (diagnosis only): more createCollector() options, as JSON.
  ...JSON.parse(process.env.BENCH_COLLECTOR_OPTIONS ?? "{}"),
});

/** Sessions held now: the sum of the `sessionlens_sessions` gauge (one pass over the index, no copies). */
async function sessionCount() {
  const values = (await collector.metrics.getSingleMetric("sessionlens_sessions")?.get())?.values ?? [];
  return values.reduce((sum, v) => sum + v.value, 0);
}

async function counted(type) {
  const metric = collector.metrics.getSingleMetric("sessionlens_messages_received_total");
  const values = (await metric?.get())?.values ?? [];
  return values.find((v) => v.labels.type === type)?.value ?? null;
}

const address = await collector.listen();
serveServer(
  { port: address.port, path: "/ws", readyAt: Date.now() },
  {
    stats: async () => {
      const frames = await counted("heartbeat");
      return { frames, hellos: await counted("hello"), sessions: await sessionCount(), ...(redis ? { redisCpuUs: await redis.cpuUs() } : {}) };
    },
    /** Graceful close, timed (and profiled when asked), before the process exits. */
    close: async ({ profileTo } = {}) => {
      if (profileTo) await profileStart();
      const t0 = performance.now();
      await collector.close();
      const closeMs = performance.now() - t0;
      await redis?.removeKeys();
      if (profileTo) await profileStop({ path: profileTo });
      return { closeMs };
    },
    exit: async () => {
      await collector.close();
      await redis?.removeKeys().catch(() => {});
    },
  },
);
