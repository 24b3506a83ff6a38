#!/usr/bin/env node
// Several collectors on Redis: `node bench/benchmarks/redis.mjs [--quick]` (needs the built collector).
//
// 1. Query: N sessions written through the Redis store by one node; on another node that holds
//    none of them, getSessionInfo(username) answered (a) straight from Redis (the username index of
//    every shard, then the hashes) and (b) from the node's cluster view (the local replica fed by
//    the changes channel, what the collector uses), in process and over HTTP.
// 2. Cross-node command: a message sent on node A to a page on node B, until the page has it.
// 3. Event propagation: a page on node B changes path, until node A's cluster view shows it.
//
// Uses REDIS_URL (default redis://127.0.0.1:6379) under a fresh key prefix, removed at the end.
// Prints the JSON (and writes it to --out FILE when given; bench/run.mjs reads it from there).
// When no Redis answers at REDIS_URL it measures nothing and says so: `{ unavailable: "no Redis at ..." }`.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { createCollector } from "@sessionlens/collector";
import { decodeCollectorMessage, encodeMessage } from "@sessionlens/shared/codec";
import WebSocket from "ws";
import { summarize } from "../lib/stats.mjs";

const { values: flags } = parseArgs({ options: { quick: { type: "boolean", default: false }, out: { type: "string" } } });
const SIZES = flags.quick
  ? { sessions: 10_000, users: 100, queries: 200, commands: 100, events: 50 }
  : { sessions: 100_000, users: 1_000, queries: 1_000, commands: 500, events: 200 };
const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
// The URL as shown in the results: without a password.
const shownUrl = (() => {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.href.replace(/\/$/, "");
  } catch {
    return url;
  }
})();
const prefix = `slbench:${randomBytes(4).toString("hex")}:`;

const report = (results) => {
  const json = JSON.stringify(results, null, 2);
  if (flags.out) writeFileSync(flags.out, json);
  console.log(json);
};

/** Resolves to null when something at `url` answers PING within 2 s, else to the reason it does not. */
function probeRedis(redisUrl) {
  let host, port;
  try {
    const parsed = new URL(redisUrl);
    host = parsed.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1";
    port = Number(parsed.port || 6379);
  } catch {
    return Promise.resolve(`invalid REDIS_URL "${redisUrl}"`);
  }
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (reason) => (socket.destroy(), clearTimeout(timer), resolve(reason));
    const timer = setTimeout(() => done("no answer within 2 s"), 2_000);
    socket.once("error", (error) => done(error.code ?? error.message));
    socket.once("connect", () => socket.write("PING\r\n"));
    // +PONG, or -NOAUTH/-ERR from a Redis that wants a password (the store authenticates from the URL).
    socket.once("data", (data) => done(/^[+-]/.test(data.toString()) ? null : "not a Redis server"));
  });
}

const unreachable = await probeRedis(url);
if (unreachable) {
  report({ mode: flags.quick ? "quick" : "full", redis: shownUrl, sizes: SIZES, unavailable: `no Redis at ${shownUrl} (${unreachable})` });
  process.exit(0);
}
const { RedisPersistence } = await import(new URL("../../packages/collector/dist/store/redis.js", import.meta.url).href);
const { compileQuery } = await import(new URL("../../packages/collector/dist/query/filter.js", import.meta.url).href);

const secret = "bench-secret-0123456789abcdef0123";
const node = (nodeId) => createCollector({ port: 0, dataDir: null, secret, redis: { url, prefix, nodeId } });

function record(i) {
  const now = Date.now();
  return {
    id: `bench-${i}`,
    project: `Project${i % 50}`,
    createdAt: now,
    userAgent: "Mozilla/5.0 bench",
    clientAddress: "10.0.0.1",
    scope: "browser",
    username: `user-${i % SIZES.users}`,
    authorized: true,
    tokenExpiresAt: now + 3_600_000,
    lastCommAt: now,
    recentBytesSent: 0,
    totalBytesSent: 100,
    closedPagesBytes: 0,
    pages: new Map([[`page-${i}`, { id: `page-${i}`, path: "/", epoch: 1, seq: 1, epochBytes: 100, earlierBytes: 0, openedAt: now, connectedAt: now, disconnectedAt: null }]]),
  };
}

async function timed(n, fn) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    times.push(performance.now() - t0);
  }
  return summarize(times);
}

async function agent(wsUrl) {
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
  const listeners = new Set();
  ws.on("message", (data) => {
    const decoded = decodeCollectorMessage(data);
    if (decoded.ok) for (const listener of listeners) listener(decoded.value);
  });
  await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
  const next = (type) => new Promise((resolve) => {
    const listener = (frame) => frame.type === type && (listeners.delete(listener), resolve(frame));
    listeners.add(listener);
  });
  const welcome = next("welcome");
  let seq = 0;
  const epoch = Date.now();
  ws.send(encodeMessage({ type: "hello", v: 1, project: "Bench", scope: null, userAgent: "bench", pageId: randomBytes(8).toString("hex"), path: "/", resume: null, token: null, epoch, seq: seq++, bytes: 0 }));
  return { ws, next, welcome: await welcome, report: (path) => ws.send(encodeMessage({ type: "report", epoch, seq: seq++, bytes: seq * 10, path })) };
}

const results = { mode: flags.quick ? "quick" : "full", redis: shownUrl, sizes: SIZES };
const writer = new RedisPersistence({ url, prefix, nodeId: "bench-writer", flushIntervalMs: 60_000 });
const direct = new RedisPersistence({ url, prefix, nodeId: "bench-direct" });
let a, b;
try {
  await writer.open();
  let t0 = performance.now();
  for (let i = 0; i < SIZES.sessions; i += 1_000) {
    await Promise.all(Array.from({ length: Math.min(1_000, SIZES.sessions - i) }, (_, j) => writer.put(record(i + j))));
  }
  results.fillMs = Math.round(performance.now() - t0);

  await direct.open();
  const byUser = (i) => compileQuery({ usernameFilter: `user-${i % SIZES.users}` });
  results.queryDirectRedis = await timed(SIZES.queries, (i) => direct.query(byUser(i)));

  t0 = performance.now();
  a = node("bench-a");
  const addressA = await a.listen();
  results.replicaLoadMs = Math.round(performance.now() - t0);
  results.queryReplicaInProcess = await timed(SIZES.queries, (i) => a.getSessionInfo(`user-${i % SIZES.users}`));
  results.queryReplicaHttp = await timed(SIZES.queries, async (i) => {
    const response = await globalThis.fetch(`${addressA.url}/api/v1/sessions?usernameFilter=user-${i % SIZES.users}`);
    await response.arrayBuffer();
  });
  results.matchesPerQuery = SIZES.sessions / SIZES.users;

  b = node("bench-b");
  const addressB = await b.listen();
  const page = await agent(addressB.wsUrl);
  const id = page.welcome.sessionId;
  for (let tries = 0; !(await a.getSession(id)) && tries < 200; tries++) await new Promise((resolve) => setTimeout(resolve, 10));
  results.crossNodeCommand = await timed(SIZES.commands, async () => {
    const got = page.next("message");
    await a.sendMessage(id, "bench", 1);
    await got;
  });

  // A path change on node B (a structural change, written at once) until node A's cluster view
  // shows it; node A's event stream sends it from there after its coalescing (sseCoalesceMs, 250 ms).
  results.eventPropagation = await timed(SIZES.events, async (i) => {
    const seen = waitForPropagation(a, id, i);
    page.report(`/bench/${i}`);
    await seen;
  });
  page.ws.close();
} finally {
  await a?.close();
  await b?.close();
  await direct.close();
  await writer.close();
  await cleanup();
}

/** Resolves once node A's event stream (through its query watch) shows the page's new report. */
function waitForPropagation(collector, sessionId, i) {
  return new Promise((resolve) => {
    const started = performance.now();
    const poll = async () => {
      const details = await collector.getSession(sessionId);
      if (details?.pages.some((p) => p.path === `/bench/${i}`)) return resolve(performance.now() - started);
      setTimeout(poll, 1);
    };
    void poll();
  });
}

async function cleanup() {
  const { createRedisConnection } = await import(new URL("../../packages/collector/dist/store/redis-connection.js", import.meta.url).href);
  const connection = createRedisConnection({ url });
  await connection.connect();
  let cursor = "0";
  do {
    const [next, keys] = await connection.command(undefined, ["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "1000"]);
    cursor = String(next);
    if (keys.length > 0) await connection.command(undefined, ["UNLINK", ...keys]);
  } while (cursor !== "0");
  await connection.close();
}

report(results);
