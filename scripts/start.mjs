#!/usr/bin/env node
// `pnpm start`: the collector (embedded in-memory store, data in .sessionlens/)
// and the demo gateway side by side, each its own process, with their URLs
// printed. Ctrl-C stops both cleanly: each child gets exactly one SIGTERM from
// here (they run in their own process group, so the terminal's SIGINT reaches
// only this script), and this script exits 0 once both have stopped cleanly.
// package.json runs it with `exec`, so pnpm sees this exit code (a shell that
// waits for a child dies of the SIGINT itself, which pnpm reports as a failure).
/* global fetch, AbortSignal */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { prefixOutput } from "./lib/prefix-output.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dataDir = process.env.SESSIONLENS_DATA_DIR ?? join(root, ".sessionlens");
const collectorHost = process.env.SESSIONLENS_HOST ?? "127.0.0.1";
const collectorPort = process.env.SESSIONLENS_PORT ?? "8787";
const demoPort = process.env.DEMO_PORT ?? "3000";

const required = [
  "packages/collector/dist/cli/index.js",
  "packages/agent/dist/sessionlens-agent.iife.js",
  "examples/gateway-demo/dist/main.js",
  "examples/gateway-demo/dist/web/index.html",
];
const missing = required.filter((file) => !existsSync(join(root, file)));
if (missing.length > 0) {
  console.error(`start: not built yet (${missing.join(", ")} missing); run: npx -y pnpm@10 build`);
  process.exit(1);
}

// The identity secret is shared by the gateway (signs logins) and the collector
// (verifies them). Kept in the data dir so logins survive a restart.
mkdirSync(dataDir, { recursive: true });
const secretFile = join(dataDir, "demo-identity-secret");
if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(32).toString("base64url"), { mode: 0o600 });
const identitySecret = process.env.SESSIONLENS_IDENTITY_SECRET ?? readFileSync(secretFile, "utf8").trim();

const collectorUrl = `http://${collectorHost}:${collectorPort}`;
const env = { ...process.env, SESSIONLENS_IDENTITY_SECRET: identitySecret };
const children = [];

function run(name, args, extraEnv) {
  // detached: a process group of its own, so Ctrl-C does not signal it a second time.
  const child = spawn(process.execPath, args, { cwd: root, env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  prefixOutput(child, name);
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`[${name}] exited (${signal ?? code}); stopping the demo`);
      stop(1);
    } else if (code !== 0) {
      console.error(`[${name}] did not stop cleanly (${signal ?? code})`);
      failedToStop = true;
    }
  });
  children.push(child);
  return child;
}

run("collector", [
  "packages/collector/bin/sessionlens.js",
  "serve",
  "--host", collectorHost,
  "--port", collectorPort,
  "--data-dir", dataDir,
]);
run("gateway", ["examples/gateway-demo/dist/main.js"], { SESSIONLENS_URL: collectorUrl, DEMO_PORT: demoPort });

// The URLs are printed once both processes answer, so a reader (or a test) can use them at once.
async function answers(url) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}
async function announceWhenReady() {
  const deadline = Date.now() + 60_000;
  while (!stopping && !((await answers(`${collectorUrl}/healthz`)) && (await answers(`http://127.0.0.1:${demoPort}/`)))) {
    if (Date.now() > deadline) {
      console.error("start: the collector or the gateway did not answer within 60 s");
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (stopping) return;
  console.log(`
  SessionLens demo is running
    demo app (runs the agent):   http://127.0.0.1:${demoPort}/
    plain IIFE page:             http://127.0.0.1:${demoPort}/plain/
    collector status page:       ${collectorUrl}/
    sessions API:                ${collectorUrl}/api/v1/sessions
    command line:                node packages/collector/bin/sessionlens.js sessions
  Open the demo app in two tabs, sign in, send an order, and watch the status page. Ctrl-C stops both.
`);
}

let stopping = false;
let failedToStop = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  const force = setTimeout(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    process.exit(code || 1);
  }, 10_000);
  force.unref();
  Promise.all(children.map((child) => (child.exitCode !== null || child.signalCode !== null ? null : new Promise((r) => child.on("exit", r))))).then(
    () => process.exit(code || (failedToStop ? 1 : 0)),
  );
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
process.on("SIGHUP", () => stop(0));
// The children have their own process group: never leave them behind.
process.on("exit", () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
});

void announceWhenReady();
