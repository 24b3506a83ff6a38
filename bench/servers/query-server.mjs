// Benchmark 3, server side: a collector holding N sessions, loaded through the
// public persistence port (a `SessionPersistence` whose `open()` returns them,
// as the embedded store does after a restart), then queried in-process with
// collector.getSessionInfo() and over HTTP by the parent process.
import { ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { detectScope, UNAUTHENTICATED } from "@sessionlens/shared";
import { serveServer, memoryAfterGc } from "../lib/server-process.mjs";
import { rng, weightedPicker, zipfWeights, projectName, userName, USER_AGENTS, USER_AGENT_WEIGHTS, PATHS, pageId } from "../lib/traffic.mjs";
import { summarize } from "../lib/stats.mjs";

const { createCollector, SessionPersistence } = await import(process.env.BENCH_COLLECTOR_MODULE ?? "@sessionlens/collector");

const sessions = Number(process.env.BENCH_SESSIONS ?? 100_000);
const users = Number(process.env.BENCH_USERS ?? 1_000);
const projects = Number(process.env.BENCH_PROJECTS ?? 50);

// Every write of an HTTP answer is recorded while tracking is on: the largest
// single write shows whether a big answer was built as one string.
let tracking = null;
const originalWrite = ServerResponse.prototype.write;
const originalEnd = ServerResponse.prototype.end;
const record = (chunk) => {
  if (!tracking || chunk == null || typeof chunk === "function") return;
  const size = typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
  tracking.writes++;
  tracking.bytes += size;
  tracking.largest = Math.max(tracking.largest, size);
};
ServerResponse.prototype.write = function write(chunk, ...rest) {
  record(chunk);
  return originalWrite.call(this, chunk, ...rest);
};
ServerResponse.prototype.end = function end(chunk, ...rest) {
  record(chunk);
  return originalEnd.call(this, chunk, ...rest);
};

/** Hands the generated sessions to the collector at start, as a store restores what it kept. */
class GeneratedSessions extends SessionPersistence {
  records = [];
  async open() {
    const sessions = this.records;
    this.records = [];
    return { sessions };
  }
}
const store = new GeneratedSessions();

// --- the population: skewed users and projects, a realistic mix of devices.
const random = rng(42);
const pickUser = weightedPicker(zipfWeights(users, 0.5), random);
const pickProject = weightedPicker(zipfWeights(projects, 1), random);
const pickUa = weightedPicker(USER_AGENT_WEIGHTS, random);
const perUser = new Map();
const now = Date.now();
const fillStarted = performance.now();
for (let i = 0; i < sessions; i++) {
  // One session in ten is not logged in.
  const username = random() < 0.1 ? UNAUTHENTICATED : userName(pickUser());
  const project = projectName(pickProject());
  const userAgent = USER_AGENTS[pickUa()];
  const createdAt = now - Math.floor(random() * 8 * 3_600_000);
  const pages = new Map();
  const pageCount = 1 + Math.floor(random() * random() * 3);
  let total = 0;
  for (let p = 0; p < pageCount; p++) {
    const id = pageId();
    const bytes = Math.floor(random() * 2_000_000);
    total += bytes;
    pages.set(id, {
      id,
      path: PATHS[Math.floor(random() * PATHS.length)],
      epoch: createdAt,
      seq: Math.floor(random() * 1000),
      epochBytes: bytes,
      earlierBytes: 0,
      openedAt: createdAt,
      connectedAt: createdAt,
      disconnectedAt: null,
    });
  }
  const closedPagesBytes = Math.floor(random() * 500_000);
  const authorized = username !== UNAUTHENTICATED;
  store.records.push({
    id: `${pageId()}`,
    project,
    createdAt,
    userAgent,
    clientAddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    scope: detectScope(userAgent, random() < 0.02 ? "designer" : null),
    username,
    authorized,
    tokenExpiresAt: authorized ? now + 3_600_000 : null,
    lastCommAt: now - Math.floor(random() * 10_000),
    recentBytesSent: Math.floor(random() * 2_000),
    totalBytesSent: total + closedPagesBytes,
    closedPagesBytes,
    pages,
  });
  if (username !== UNAUTHENTICATED) {
    const byProject = perUser.get(username) ?? new Map();
    byProject.set(project, (byProject.get(project) ?? 0) + 1);
    perUser.set(username, byProject);
  }
}
// Restored pages wait for their agents to come back: keep them for the whole run.
const collector = createCollector({ host: "127.0.0.1", port: 0, dataDir: null, store, pageGraceMs: 24 * 3_600_000, sessionTimeoutMs: 24 * 3_600_000 });
const address = await collector.listen();
const fillMs = performance.now() - fillStarted;

// The queried user has about sessions/users matches, as the issue asks (about 100 at 100,000).
const wanted = Math.round(sessions / users);
let chosenUser = null;
let chosenCount = -1;
for (const [username, byProject] of perUser) {
  const count = [...byProject.values()].reduce((s, n) => s + n, 0);
  if (chosenUser === null || Math.abs(count - wanted) < Math.abs(chosenCount - wanted)) {
    chosenUser = username;
    chosenCount = count;
  }
}
const chosenProject = [...perUser.get(chosenUser)].sort((x, y) => y[1] - x[1])[0][0];
// A wildcard prefix over ten mid-ranked users, like a search box would send.
const wildcard = `${userName(Math.floor(users * 0.12)).slice(0, -1)}*`;

const QUERIES = {
  unfiltered: [undefined, undefined],
  username: [chosenUser, undefined],
  project: [undefined, projectName(5)],
  both: [chosenUser, chosenProject],
  wildcard: [wildcard, undefined],
};

async function inProcess({ iterations, scanIterations }) {
  const out = {};
  const matches = {};
  for (const [name, [user, project]] of Object.entries(QUERIES)) {
    const n = name === "unfiltered" ? scanIterations : iterations;
    const times = [];
    for (let i = 0; i < Math.min(20, n) + n; i++) {
      const t0 = performance.now();
      const result = await collector.getSessionInfo(user, project);
      const elapsed = performance.now() - t0;
      if (i >= Math.min(20, n)) times.push(elapsed);
      matches[name] = result.length;
    }
    out[name] = summarize(times);
  }
  return { latencyMs: out, matches };
}

serveServer(
  { port: address.port, fillMs, sessions, users, projects },
  {
    queries: () => ({ queries: QUERIES, chosenUser, chosenCount, chosenProject, wildcard }),
    inProcess,
    count: async () => (await collector.getSessionInfo()).length,
    memory: () => memoryAfterGc(),
    trackStart: () => {
      tracking = { writes: 0, bytes: 0, largest: 0 };
      return null;
    },
    trackStop: () => {
      const result = tracking;
      tracking = null;
      return result;
    },
    exit: () => collector.close(),
  },
);
