#!/usr/bin/env node
// `pnpm cluster`: two collectors sharing sessions through Redis, each with a demo gateway in front,
// each its own process. Uses REDIS_URL when set; otherwise starts a private redis-server on a free
// port (removed at exit). Ctrl-C stops everything. See examples/cluster/README.md.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { prefixOutput } from "./lib/prefix-output.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const host = "127.0.0.1";
const nodes = [
  { name: "node-a", port: Number(process.env.NODE_A_PORT ?? 8787), demoPort: Number(process.env.DEMO_A_PORT ?? 3000) },
  { name: "node-b", port: Number(process.env.NODE_B_PORT ?? 8788), demoPort: Number(process.env.DEMO_B_PORT ?? 3001) },
];

const required = ["packages/collector/dist/cli/index.js", "packages/agent/dist/sessionlens-agent.iife.js", "examples/gateway-demo/dist/main.js"];
const missing = required.filter((file) => !existsSync(join(root, file)));
if (missing.length > 0) {
  console.error(`cluster: not built yet (${missing.join(", ")} missing); run: npx -y pnpm@10 build`);
  process.exit(1);
}

const children = [];
let stopping = false;
let redisDir = null;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function run(name, command, args, env = {}) {
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  prefixOutput(child, name);
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`[${name}] exited (${signal ?? code}); stopping the cluster`);
      stop(1);
    }
  });
  children.push(child);
  return child;
}

let redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  if (spawnSync("redis-server", ["--version"]).status !== 0) {
    console.error("cluster: REDIS_URL is not set and there is no redis-server to start (apt-get install -y redis-server)");
    process.exit(1);
  }
  const port = await freePort();
  redisDir = mkdtempSync(join(tmpdir(), "sessionlens-cluster-redis-"));
  run("redis", "redis-server", ["--port", String(port), "--bind", host, "--save", "", "--appendonly", "no", "--dir", redisDir, "--loglevel", "warning"]);
  redisUrl = `redis://${host}:${port}`;
  // Wait until it answers.
  for (let i = 0; i < 100; i++) {
    if (spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" }).stdout?.trim() === "PONG") break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// Shared by both nodes: the resume secret (a session resumes on either) and the identity secret
// (the gateways sign logins, both collectors verify them).
const secret = process.env.SESSIONLENS_SECRET ?? randomBytes(32).toString("base64url");
const identitySecret = process.env.SESSIONLENS_IDENTITY_SECRET ?? randomBytes(32).toString("base64url");
const prefix = process.env.SESSIONLENS_REDIS_PREFIX ?? `sessionlens-demo-${randomBytes(3).toString("hex")}:`;

for (const node of nodes) {
  run(node.name, process.execPath, [
    "packages/collector/bin/sessionlens.js", "serve",
    "--host", host, "--port", String(node.port),
    "--store", "redis", "--redis-url", redisUrl, "--redis-prefix", prefix, "--node-id", node.name,
    "--data-dir", join(root, ".sessionlens", node.name),
  ], { SESSIONLENS_SECRET: secret, SESSIONLENS_IDENTITY_SECRET: identitySecret });
  run(`gateway-${node.name.slice(-1)}`, process.execPath, ["examples/gateway-demo/dist/main.js"], {
    SESSIONLENS_URL: `http://${host}:${node.port}`,
    SESSIONLENS_IDENTITY_SECRET: identitySecret,
    DEMO_PORT: String(node.demoPort),
  });
}

/** Resolves once every collector is ready and every gateway answers. */
async function allUp() {
  const urls = nodes.flatMap((node) => [`http://${host}:${node.port}/readyz`, `http://${host}:${node.demoPort}/`]);
  for (;;) {
    if (stopping) return false;
    const answers = await Promise.all(urls.map((url) => globalThis.fetch(url).then((response) => response.ok, () => false)));
    if (answers.every(Boolean)) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

void allUp().then((up) => {
  if (!up) return;
  console.log(`
  SessionLens cluster is running (Redis: ${redisUrl}, key prefix ${prefix})
    demo app on node-a:   http://${host}:${nodes[0].demoPort}/   (its agents connect to node-a)
    demo app on node-b:   http://${host}:${nodes[1].demoPort}/   (its agents connect to node-b)
    status page node-a:   http://${host}:${nodes[0].port}/
    status page node-b:   http://${host}:${nodes[1].port}/
    either node lists every session:
      node packages/collector/bin/sessionlens.js sessions --url http://${host}:${nodes[0].port}
      node packages/collector/bin/sessionlens.js sessions --url http://${host}:${nodes[1].port}
  Ctrl-C stops everything.
`);
});

function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  // Collectors and gateways first, Redis last (the collectors write their last state to it).
  const redis = children.find((child) => child.spawnargs[0] === "redis-server");
  const others = children.filter((child) => child !== redis);
  for (const child of others) if (child.exitCode === null) child.kill("SIGTERM");
  const force = setTimeout(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    if (redisDir) rmSync(redisDir, { recursive: true, force: true });
    process.exit(code || 1);
  }, 10_000);
  force.unref();
  Promise.all(others.map((child) => (child.exitCode !== null ? null : new Promise((r) => child.on("exit", r))))).then(async () => {
    if (redis && redis.exitCode === null) {
      redis.kill("SIGTERM");
      await new Promise((r) => redis.on("exit", r));
    }
    if (redisDir) rmSync(redisDir, { recursive: true, force: true });
    process.exit(code);
  });
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
