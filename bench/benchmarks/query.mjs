// Benchmark 3: getSessionInfo latency with N sessions in the store, in-process
// (inside the collector's process, nothing else running) and over HTTP
// (GET /api/v1/sessions from this process, one request at a time, keep-alive).
import { Agent, request } from "node:http";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { URLSearchParams, fileURLToPath } from "node:url";
import { startChild } from "../lib/ipc.mjs";
import { summarize } from "../lib/stats.mjs";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

/** One GET; resolves with timings, status, size and how the body arrived. */
function get(agent, port, path) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request({ host: "127.0.0.1", port, path, agent }, (res) => {
      const ttfbMs = performance.now() - t0;
      let bytes = 0;
      let chunks = 0;
      res.on("data", (chunk) => {
        bytes += chunk.length;
        chunks++;
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode,
          ttfbMs,
          totalMs: performance.now() - t0,
          bytes,
          chunks,
          chunked: res.headers["transfer-encoding"] === "chunked",
          contentLength: res.headers["content-length"] ?? null,
        }),
      );
      res.on("error", reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

function queryString([usernameFilter, projectFilter]) {
  const params = new URLSearchParams();
  if (usernameFilter) params.set("usernameFilter", usernameFilter);
  if (projectFilter) params.set("projectFilter", projectFilter);
  const text = params.toString();
  return `/api/v1/sessions${text ? `?${text}` : ""}`;
}

export async function runQuery({ sessions, users, projects, iterations, scanIterations, httpRequests, httpScanRequests, logDir }) {
  const proc = startChild(here("../servers/query-server.mjs"), {
    execArgv: ["--expose-gc", "--max-old-space-size=4096"],
    env: { BENCH_SESSIONS: String(sessions), BENCH_USERS: String(users), BENCH_PROJECTS: String(projects) },
    logFile: join(logDir, "query.server.log"),
    lifetimeMs: 10 * 60_000,
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const ready = await proc.once("ready", 180_000);
    const stored = await proc.request("count");
    if (stored !== sessions) throw new Error(`the store holds ${stored} sessions, expected ${sessions}`);
    const { queries, chosenUser, chosenProject, wildcard } = await proc.request("queries");
    const memory = await proc.request("memory");
    const inProcess = await proc.request("inProcess", { iterations, scanIterations }, 300_000);

    const http = {};
    for (const [name, filter] of Object.entries(queries)) {
      const n = name === "unfiltered" ? httpScanRequests : httpRequests;
      const path = queryString(filter);
      const warm = Math.min(20, n);
      const times = [];
      for (let i = 0; i < warm + n; i++) {
        const r = await get(agent, ready.port, path);
        if (r.status !== 200) throw new Error(`GET ${path} answered ${r.status}`);
        if (i >= warm) times.push(r.totalMs);
      }
      http[name] = summarize(times);
    }

    // One more unfiltered answer with every server-side write recorded.
    await proc.request("trackStart");
    const big = await get(agent, ready.port, queryString(queries.unfiltered));
    const writes = await proc.request("trackStop");
    return {
      sessions,
      users,
      projects,
      fillMs: Math.round(ready.fillMs),
      filled: "through the public persistence port (a SessionPersistence whose open() returns them, as a store restores sessions after a restart)",
      heapAfterFill: memory.heapUsed,
      rssAfterFill: memory.rss,
      filters: { username: chosenUser, project: queries.project[1], both: [chosenUser, chosenProject], wildcard },
      matches: inProcess.matches,
      inProcess: inProcess.latencyMs,
      http,
      streaming: {
        bodyBytes: big.bytes,
        ttfbMs: big.ttfbMs,
        totalMs: big.totalMs,
        chunksReceived: big.chunks,
        chunked: big.chunked,
        contentLength: big.contentLength,
        writes: writes.writes,
        largestWriteBytes: writes.largest,
      },
    };
  } finally {
    agent.destroy();
    await proc.stop(10_000);
  }
}
