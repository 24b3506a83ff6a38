/**
 * Redis for the store and cluster suites.
 *
 * - The shared Redis: 127.0.0.1:6379 unless SESSIONLENS_TEST_REDIS_URL says otherwise. Everyone on
 *   this machine uses it, so every test run takes its own key prefix (`uniquePrefix`).
 * - A private `redis-server` on a free port, for tests that stop and restart Redis.
 * - A private three-master Redis Cluster on free ports (`redis-server --cluster-enabled yes` and
 *   `redis-cli --cluster create`).
 *
 * Locally a suite skips with a clear message when Redis (or the `redis-server` binary) is missing;
 * with CI=true it fails instead.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const TEST_REDIS_URL = process.env["SESSIONLENS_TEST_REDIS_URL"] ?? "redis://127.0.0.1:6379";
export const REDIS_SERVER_BIN = process.env["SESSIONLENS_REDIS_SERVER"] ?? "redis-server";
export const REDIS_CLI_BIN = process.env["SESSIONLENS_REDIS_CLI"] ?? "redis-cli";

const inCi = (): boolean => process.env["CI"] === "true";

/** Whether a TCP connection to host:port opens within a second. */
function answers(host: string, port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = new Socket();
    socket.setTimeout(1000);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(false));
    socket.connect(port, host);
  });
}

/** True when the shared Redis answers; skips with a message locally, throws under CI=true. */
export async function redisAvailable(): Promise<boolean> {
  const url = new URL(TEST_REDIS_URL);
  if (await answers(url.hostname, Number(url.port || 6379))) return true;
  if (inCi()) throw new Error(`Redis does not answer at ${TEST_REDIS_URL}; CI must start it`);
  console.warn(`[skip] Redis tests: nothing answers at ${TEST_REDIS_URL}`);
  return false;
}

/**
 * True when `redis-server` and `redis-cli` can be run here (private servers and clusters); skips
 * with a message locally, throws under CI=true.
 */
export function redisServerAvailable(): boolean {
  const server = spawnSync(REDIS_SERVER_BIN, ["--version"], { encoding: "utf8" });
  const cli = spawnSync(REDIS_CLI_BIN, ["--version"], { encoding: "utf8" });
  if (server.status === 0 && cli.status === 0) return true;
  const message = `no ${server.status === 0 ? REDIS_CLI_BIN : REDIS_SERVER_BIN} to run (apt-get install -y redis-server)`;
  if (inCi()) throw new Error(`Redis tests need a private server: ${message}`);
  console.warn(`[skip] private Redis tests: ${message}`);
  return false;
}

/** A key prefix no other test run on this machine uses. */
export function uniquePrefix(name: string): string {
  return `sltest:${name}:${process.pid}-${randomBytes(4).toString("hex")}:`;
}

/** A free TCP port on 127.0.0.1 (and, with `alsoFree`, port + alsoFree too: a cluster's bus port). */
export async function freePort(alsoFree = 0): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = alsoFree === 0 ? await listenOnce(0) : 20_000 + Math.floor(Math.random() * 25_000);
    if (alsoFree === 0) return port;
    if ((await portIsFree(port)) && (await portIsFree(port + alsoFree))) return port;
  }
  throw new Error("no free port found");
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const chosen = (server.address() as { port: number }).port;
      server.close(() => resolve(chosen));
    });
  });
}

async function portIsFree(port: number): Promise<boolean> {
  try {
    await listenOnce(port);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs redis-cli against a port and returns its output (throws on a non-zero exit). */
export function redisCli(port: number, ...args: string[]): string {
  const result = spawnSync(REDIS_CLI_BIN, ["-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8", timeout: 30_000 });
  if (result.status !== 0) throw new Error(`redis-cli ${args.join(" ")} failed: ${result.stderr || result.stdout}`);
  return result.stdout;
}

/** A `redis-server` this test started: stop it to make Redis unreachable, start it again on the same port. */
export interface PrivateRedis {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Whether the server process is running. */
  readonly running: boolean;
  /** Kills the server (SIGKILL: nothing is saved, connections drop at once). */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: nothing was persisted). */
  start(): Promise<void>;
  /** Stops it for good and removes its folder. */
  close(): Promise<void>;
}

/** Starts a private `redis-server` on a free port; `extraArgs` are passed through (e.g. cluster mode). */
export async function startPrivateRedis(options: { port?: number; extraArgs?: string[] } = {}): Promise<PrivateRedis> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "sessionlens-redis-"));
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    if (child !== null) return;
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", "", ...(options.extraArgs ?? [])];
    const started = spawn(REDIS_SERVER_BIN, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    started.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child = started;
    exited = new Promise((resolve) => started.once("exit", () => resolve()));
    started.once("exit", () => {
      if (child === started) child = null;
    });
    try {
      await waitFor(`redis-server on port ${port}`, async () => {
        if (child !== started) throw new Error(`redis-server on port ${port} exited: ${stderr.trim()}`);
        return answers("127.0.0.1", port);
      });
    } catch (error) {
      started.kill("SIGKILL");
      throw error;
    }
  };

  const stop = async (): Promise<void> => {
    const running = child;
    if (running === null) return;
    running.kill("SIGKILL");
    await exited;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== null;
    },
    stop,
    start,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A private Redis Cluster: masters on free ports with no replicas, every slot assigned. */
export interface PrivateRedisCluster {
  readonly nodes: readonly PrivateRedis[];
  /** `redis+cluster://127.0.0.1:<first port>` */
  readonly url: string;
  /** `redis://127.0.0.1:<port>` of every master (root nodes for `createCluster`). */
  readonly urls: readonly string[];
  close(): Promise<void>;
}

/** Creates a Redis Cluster of `masters` masters (default 3) and waits until every node reports `cluster_state:ok`. */
export async function startPrivateRedisCluster(masters = 3): Promise<PrivateRedisCluster> {
  const nodes: PrivateRedis[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      // The cluster bus listens on port + 10000, so both must be free.
      const port = await freePort(10_000);
      nodes.push(
        await startPrivateRedis({
          port,
          extraArgs: ["--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`, "--cluster-node-timeout", "2000"],
        }),
      );
    }
    redisCli(nodes[0]!.port, "--cluster", "create", ...nodes.map((node) => `127.0.0.1:${node.port}`), "--cluster-replicas", "0", "--cluster-yes");
    await waitFor(
      "the cluster to be ready",
      () => nodes.every((node) => redisCli(node.port, "cluster", "info").includes("cluster_state:ok")),
      20_000,
    );
  } catch (error) {
    await Promise.all(nodes.map((node) => node.close()));
    throw error;
  }
  return {
    nodes,
    url: `redis+cluster://127.0.0.1:${nodes[0]!.port}`,
    urls: nodes.map((node) => node.url),
    async close() {
      await Promise.all(nodes.map((node) => node.close()));
    },
  };
}
