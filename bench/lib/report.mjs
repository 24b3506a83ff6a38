// Turns raw results into verdict rows (figure, measured, target, PASS/MISS)
// and the Markdown table of RESULTS.md.
import { median, round } from "./stats.mjs";

const KB = 1024;

const fmtUs = (v) => (Number.isFinite(v) ? `${round(v, 2)} µs` : "n/a");
const fmtMs = (v) => (Number.isFinite(v) ? `${round(v, 3)} ms` : "n/a");
const fmtBytes = (v) => (Number.isFinite(v) ? `${Math.round(v).toLocaleString("en-US")} B` : "n/a");
const fmtMiB = (v) => (Number.isFinite(v) ? `${round(v / 1024 / 1024, 0).toLocaleString("en-US")} MiB` : "n/a");
const fmtRatio = (v) => (Number.isFinite(v) ? `${round(v, 2)}x` : "n/a");
const fmtS = (v) => (Number.isFinite(v) ? `${round(v / 1000, 1)} s` : "n/a");

function verdict(ok) {
  if (ok === null || ok === undefined) return "n/a";
  return ok ? "PASS" : "MISS";
}

/** Median over repetitions of each (server, pages) ingest run. */
export function aggregateIngest(runs) {
  const groups = new Map();
  for (const run of runs) {
    if (run.error) continue;
    const key = `${run.server}:${run.pagesRequested}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(run);
  }
  const out = {};
  for (const [key, list] of groups) {
    out[key] = {
      server: list[0].server,
      pagesRequested: list[0].pagesRequested,
      pages: Math.min(...list.map((r) => r.pages)),
      reps: list.length,
      cpuPerHeartbeatUs: median(list.map((r) => r.cpuPerHeartbeatUs)),
      cpuPerHeartbeatUsAll: list.map((r) => r.cpuPerHeartbeatUs),
      heapPerPage: median(list.map((r) => r.memory.heapPerPage)),
      rssPerPage: median(list.map((r) => r.memory.rssPerPage)),
      rssBase: median(list.map((r) => r.memory.before.rss)),
      heartbeatRate: median(list.map((r) => r.heartbeatRate)),
      cpuUtilisation: median(list.map((r) => r.cpuUtilisation)),
    };
  }
  return out;
}

/** Every figure of the issue as a row: what was measured, the target, the verdict. */
export function verdictRows(results) {
  const rows = [];
  // `key` names the figure across runs (RESULTS.md shows the previous run's figure beside each row);
  // `value` is its number in the unit of the target.
  const add = (key, section, figure, measured, target, ok, value = null) =>
    rows.push({ key, section, figure, measured, target, verdict: verdict(ok), detail: "", value: Number.isFinite(value) ? value : null });
  const error = (section, figure, message) => rows.push({ key: null, section, figure, measured: "ERROR", target: "", verdict: "ERROR", detail: message, value: null });

  // 1 and 2: ingest and memory
  const agg = results.ingest?.aggregate ?? {};
  for (const tier of results.ingest ? (results.config?.ingestPages ?? []) : []) {
    const a = agg[`ws:${tier}`];
    const b = agg[`collector:${tier}`];
    const c = agg[`socketio:${tier}`];
    const label = `${tier.toLocaleString("en-US")} pages`;
    const pagesNote = [a, b, c].some((x) => x && x.pages < tier) ? ` (measured at ${Math.min(...[a, b, c].filter(Boolean).map((x) => x.pages)).toLocaleString("en-US")}: see notes)` : "";
    if (!a || !b || !c) {
      error("1. Ingest", `CPU per heartbeat, ${label}`, `missing runs: ${[!a && "(a)", !b && "(b)", !c && "(c)"].filter(Boolean).join(" ")}; see results.ingest.errors`);
    }
    if (a && b) {
      const r = b.cpuPerHeartbeatUs / a.cpuPerHeartbeatUs;
      add(`ingest.ba.${tier}`, "1. Ingest", `(b)/(a) CPU per heartbeat, ${label}${pagesNote}`, `${fmtRatio(r)} (b ${fmtUs(b.cpuPerHeartbeatUs)}, a ${fmtUs(a.cpuPerHeartbeatUs)})`, "<= 1.15x", r <= 1.15, r);
    }
    if (b && c) {
      const r = b.cpuPerHeartbeatUs / c.cpuPerHeartbeatUs;
      // Context only (issue 14): the bare ws floor is the limit that counts.
      add(`ingest.bc.${tier}`, "1. Ingest", `(b)/(c) CPU per heartbeat, ${label}${pagesNote} (context: SessionLens vs Socket.IO)`, `${fmtRatio(r)} (b ${fmtUs(b.cpuPerHeartbeatUs)}, c ${fmtUs(c.cpuPerHeartbeatUs)})`, "-", null, r);
    }
    if (a && c) {
      add(`ingest.ac.${tier}`, "1. Ingest", `(a)/(c) CPU per heartbeat, ${label} (context: the floor vs Socket.IO)`, fmtRatio(a.cpuPerHeartbeatUs / c.cpuPerHeartbeatUs), "-", null, a.cpuPerHeartbeatUs / c.cpuPerHeartbeatUs);
    }
    if (a && b) {
      const extra = b.heapPerPage - a.heapPerPage;
      add(`memory.heap.${tier}`, "2. Memory", `heap per page (b) - (a), ${label}${pagesNote}`, `${fmtBytes(extra)} (b ${fmtBytes(b.heapPerPage)}, a ${fmtBytes(a.heapPerPage)})`, "<= 1,024 B", extra <= KB, extra);
    }
    if (b && c) {
      const rh = b.heapPerPage / c.heapPerPage;
      add(`memory.heapbc.${tier}`, "2. Memory", `(b)/(c) heap per page, ${label}`, `${fmtRatio(rh)} (c ${fmtBytes(c.heapPerPage)})`, "<= 0.5x", rh <= 0.5, rh);
      const rr = b.rssPerPage / c.rssPerPage;
      add(`memory.rssbc.${tier}`, "2. Memory", `(b)/(c) RSS per page, ${label}`, `${fmtRatio(rr)} (b ${fmtBytes(b.rssPerPage)}, c ${fmtBytes(c.rssPerPage)})`, "<= 0.5x", rr <= 0.5, rr);
    }
    if (a && b && c && tier === Math.max(...results.config.ingestPages)) {
      for (const [name, x] of [["(a)", a], ["(b)", b], ["(c)", c]]) {
        add(`memory.rss100k.${name}`, "2. Memory", `RSS at 100,000 pages, ${name} (extrapolated from ${label})`, fmtMiB(x.rssBase + 100_000 * x.rssPerPage), "stated", null, (x.rssBase + 100_000 * x.rssPerPage) / 2 ** 20);
      }
    }
  }
  for (const e of results.ingest?.errors ?? []) error("1. Ingest", `${e.server} at ${e.pages} pages`, e.error);

  // 3: query latency
  const q = results.query;
  if (q?.error) error("3. Query", "getSessionInfo latency", q.error);
  else if (q) {
    const ip = q.inProcess;
    add("query.inprocess.username", "3. Query", `in-process p99, by username (${q.matches.username} matches)`, fmtMs(ip.username.p99), "<= 1 ms", ip.username.p99 <= 1, ip.username.p99);
    const scan = ip.unfiltered.p99;
    add("query.scanratio", "3. Query", "in-process p99 by username / full scan (unfiltered) p99", `${round(ip.username.p99 / scan, 4)} (scan ${fmtMs(scan)})`, "<= 0.05", ip.username.p99 / scan <= 0.05, ip.username.p99 / scan);
    for (const name of ["username", "project", "both", "wildcard"]) {
      const h = q.http[name];
      add(`query.http.${name}`, "3. Query", `HTTP p99, ${name} (${q.matches[name]} matches)`, fmtMs(h.p99), "<= 20 ms", h.p99 <= 20, h.p99);
    }
    const full = q.http.unfiltered;
    add("query.http.unfiltered", "3. Query", `HTTP p99, unfiltered (${q.matches.unfiltered.toLocaleString("en-US")} sessions, to the last byte)`, fmtMs(full.p99), "<= 60 ms", full.p99 <= 60, full.p99);
    const s = q.streaming;
    const streamed = s.chunked && s.largestWriteBytes <= 1024 * 1024;
    add(
      "query.streamed",
      "3. Query",
      `unfiltered HTTP answer (${q.sessions.toLocaleString("en-US")} sessions, ${fmtMiB(s.bodyBytes)}) streamed`,
      `largest single write ${fmtBytes(s.largestWriteBytes)} in ${s.writes.toLocaleString("en-US")} writes; ${s.chunked ? "chunked" : `Content-Length ${s.contentLength}`}; first byte ${fmtMs(s.ttfbMs)}, last ${fmtMs(s.totalMs)}`,
      "no giant string (largest write <= 1 MiB, chunked)",
      streamed,
      s.largestWriteBytes,
    );
  }

  // 4: reconnect storm
  const st = results.storm;
  if (st?.error) error("4. Reconnect storm", "resume time", st.error);
  else if (st) {
    const r = st.resumeAllMs / st.baselineAcceptMs;
    add(
      "storm.ratio",
      "4. Reconnect storm",
      `all ${st.agents.toLocaleString("en-US")} sessions resumed / bare ws accepting ${st.agents.toLocaleString("en-US")} connections`,
      `${fmtRatio(r)} (${fmtMs(st.resumeAllMs)} vs ${fmtMs(st.baselineAcceptMs)})`,
      "<= 1.5x",
      r <= 1.5,
      r,
    );
    add("storm.lost", "4. Reconnect storm", "sessions lost (new id or never resumed)", String(st.lost), "0", st.lost === 0, st.lost);
  }

  // 4b: SIGKILL and restart
  const rs = results.restart;
  if (rs?.error) error("4. Restart", "resume time after SIGKILL", rs.error);
  else if (rs) {
    const n = rs.agents.toLocaleString("en-US");
    const after = `SIGKILL, new collector ${fmtS(rs.restartDelayMs)} later`;
    add("restart.p50", "4. Restart", `p50 from the new collector listening to a session resumed, ${n} agents (${after})`, fmtMs(rs.resumeP50Ms), "stated", null, rs.resumeP50Ms);
    add("restart.p99", "4. Restart", `p99 from the new collector listening to a session resumed, ${n} agents (${after})`, fmtMs(rs.resumeP99Ms), "<= 3 s", rs.resumeP99Ms <= 3_000, rs.resumeP99Ms);
    add("restart.lost", "4. Restart", "sessions lost after SIGKILL (new id or never resumed)", String(rs.lost), "0", rs.lost === 0, rs.lost);
  }

  // 5: agent cost
  const sz = results.size;
  if (sz?.error) error("5. Agent cost", "bundle sizes", sz.error);
  else if (sz) {
    const ours = sz.ours.iife;
    const peers = sz.peers.filter((p) => !p.error);
    if (ours.error) error("5. Agent cost", "SessionLens IIFE min+gzip", ours.error);
    else {
      add("size.iife", "5. Agent cost", "SessionLens IIFE, min+gzip -9", fmtBytes(ours.gzipBytes), "<= 16 KB (16,384 B)", ours.gzipBytes <= 16 * KB, ours.gzipBytes);
      const smallest = peers.reduce((m, p) => (p.gzipBytes < m.gzipBytes ? p : m), peers[0] ?? { gzipBytes: Infinity, name: "none" });
      add("size.peers", "5. Agent cost", `smaller than every peer (smallest: ${smallest.name}, ${fmtBytes(smallest.gzipBytes)})`, `${fmtRatio(ours.gzipBytes / smallest.gzipBytes)} of the smallest`, "< 1x of each", peers.every((p) => ours.gzipBytes < p.gzipBytes), ours.gzipBytes / smallest.gzipBytes);
    }
    for (const p of sz.peers) {
      if (p.error) error("5. Agent cost", p.name, p.error);
      else add(`size.peer.${p.name}`, "5. Agent cost", `${p.name}, min+gzip -9`, fmtBytes(p.gzipBytes), "-", null, p.gzipBytes);
    }
  }
  const w = results.wire;
  if (w?.error) error("5. Agent cost", "wire bytes", w.error);
  else if (w) {
    const hb = w.agent?.heartbeatWire ?? w.codec.heartbeatWire;
    const source = w.agent?.heartbeatWire ? "real agent" : "shared codec";
    add("wire.heartbeat", "5. Agent cost", `bytes on the wire per heartbeat (${source}; payload ${w.agent?.heartbeatPayload ?? w.codec.heartbeatPayload} B + WebSocket header)`, fmtBytes(hb), "<= 64 B", hb <= 64, hb);
    add("wire.hello", "5. Agent cost", "bytes on the wire per hello (desktop Chrome UA, no token)", fmtBytes(w.codec.helloWire), "-", null, w.codec.helloWire);
    if (w.agent?.helloWire) add("wire.hello.agent", "5. Agent cost", "bytes on the wire per hello (real agent in Node)", fmtBytes(w.agent.helloWire), "-", null, w.agent.helloWire);
    add("wire.hello.resume", "5. Agent cost", "bytes on the wire per hello with resume credential + JWT", fmtBytes(w.codec.helloResumeTokenWire), "-", null, w.codec.helloResumeTokenWire);
    if (w.agent?.error) error("5. Agent cost", "real agent frames", w.agent.error);
    if (w.socketIo && !w.socketIo.error) add("wire.socketio", "5. Agent cost", "Socket.IO event with the same heartbeat fields (context)", fmtBytes(w.socketIo.heartbeat), "-", null, w.socketIo.heartbeat);
  }

  rows.push({ key: "redis", value: null, section: "6. Redis store", figure: "ingest with Redis store vs in-memory", measured: "not measured", target: "<= 2x", verdict: "n/a", detail: "there is no Redis store in this release" });
  redisRows(results.redis, add, error);
  return rows;
}

/** Two collectors on one Redis (bench/benchmarks/redis.mjs): query on the node holding none, command and event across nodes. */
function redisRows(r, add, error) {
  if (!r) return;
  const section = "6. Redis store";
  const sessions = r.sizes ? `${r.sizes.sessions.toLocaleString("en-US")} sessions, ${r.matchesPerQuery ?? r.sizes.sessions / r.sizes.users} matches` : "100,000 sessions";
  const figures = [
    ["redis.query.http", `HTTP p99, getSessionInfo by username on the node holding none (${sessions})`, "<= 20 ms", 20, r.queryReplicaHttp],
    ["redis.query.inprocess", `in-process p99, getSessionInfo by username on that node, from its cluster view (${sessions})`, "-", null, r.queryReplicaInProcess],
    ["redis.query.direct", `p99 of the same query straight from Redis: username index, then hashes (${sessions})`, "-", null, r.queryDirectRedis],
    ["redis.command", "cross-node command p99 (message sent on node A, received by a page on node B)", "<= 100 ms", 100, r.crossNodeCommand],
    ["redis.propagation", "event-stream / cluster-view propagation p99 (path change on node B, seen in node A's cluster view)", "<= 1 s", 1_000, r.eventPropagation],
  ];
  for (const [key, figure, target, limit, summary] of figures) {
    if (r.error) error(section, figure, r.error);
    else if (r.unavailable) add(key, section, figure, `not measured: ${r.unavailable}`, target, null);
    else {
      const p99 = summary?.p99;
      add(key, section, figure, fmtMs(p99), target, limit === null || !Number.isFinite(p99) ? null : p99 <= limit, p99);
    }
  }
}

/**
 * The verdict table. With `previous` (see lib/results-md.mjs: a function from a row to the previous
 * run's measured text, or undefined), a column shows what the same figure measured last time.
 */
export function markdownTable(rows, previous = null) {
  const lines = previous
    ? ["| benchmark | figure | measured | previous run | target | verdict |", "| --- | --- | --- | --- | --- | --- |"]
    : ["| benchmark | figure | measured | target | verdict |", "| --- | --- | --- | --- | --- |"];
  for (const row of rows) {
    const detail = row.detail ? ` — ${row.detail}` : "";
    const before = previous ? ` ${previous(row) ?? "-"} |` : "";
    lines.push(`| ${row.section} | ${row.figure} | ${row.measured}${detail} |${before} ${row.target} | **${row.verdict}** |`);
  }
  return lines.join("\n");
}

/** Raw per-run figures, so a reader can see every repetition. */
export function ingestTable(results) {
  const lines = [
    "| server | pages | rep | heartbeats/s | server CPU (of one core) | CPU per heartbeat | of which kernel | heap per page | RSS per page | connect time | failures |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  const rep = new Map();
  for (const r of results.ingest?.runs ?? []) {
    if (r.error) continue;
    const key = `${r.server}:${r.pagesRequested}`;
    rep.set(key, (rep.get(key) ?? 0) + 1);
    lines.push(
      `| ${r.label} | ${r.pages.toLocaleString("en-US")} | ${rep.get(key)} | ${r.heartbeatRate.toLocaleString("en-US")} | ${round(r.cpuUtilisation * 100, 1)} % | ${fmtUs(r.cpuPerHeartbeatUs)} | ${round((r.cpuSystemUs / r.cpuUs) * 100, 0)} % | ${fmtBytes(r.memory.heapPerPage)} | ${fmtBytes(r.memory.rssPerPage)} | ${fmtMs(r.connectMs)} | ${r.connectFailures + r.closedUnexpectedly} |`,
    );
  }
  return lines.join("\n");
}

function textHistogram(buckets, width = 40) {
  const max = Math.max(1, ...buckets.map((b) => b.count));
  let last = buckets.length - 1;
  while (last > 0 && buckets[last].count === 0) last--;
  return buckets
    .slice(0, last + 1)
    .map((b) => `${String(b.from).padStart(6)}-${String(b.to).padEnd(6)} ms ${String(b.count).padStart(6)} ${"#".repeat(Math.round((b.count / max) * width))}`)
    .join("\n");
}

/** Self time by package and the hottest functions of a summarised CPU profile (lib/cpuprofile.mjs). */
function profileTables(summary) {
  return [
    "| package | self time | share |",
    "| --- | --- | --- |",
    ...summary.byCategory.map((c) => `| ${c.name} | ${fmtMs(c.selfMs)} | ${c.pct} % |`),
    "",
    "| function | where | self time | share |",
    "| --- | --- | --- | --- |",
    ...summary.top.map((f) => `| \`${f.function || "(anonymous)"}\` | \`${f.location}\` | ${fmtMs(f.selfMs)} | ${f.pct} % |`),
    "",
  ];
}

/** The details of a restart cycle (4a storm, 4b SIGKILL): timings, who was busy, the histograms. */
function restartSection(title, st) {
  const n = st.agents.toLocaleString("en-US");
  const codes = Object.entries(st.closeCodes ?? {})
    .sort((x, y) => y[1] - x[1])
    .map(([code, count]) => `${count.toLocaleString("en-US")} × ${code}`)
    .join(", ");
  const stop =
    st.how === "kill"
      ? `- old collector SIGKILLed; new collector started ${fmtMs(st.stopMs)} after the kill and listening ${fmtMs(st.downMs)} after that (${fmtMs(st.listeningAfterStopMs)} after the kill)`
      : `- old collector's graceful stop: ${fmtMs(st.stopMs)} (of which \`collector.close()\` ${fmtMs(st.closeMs)}); new collector listening ${fmtMs(st.downMs)} after that`;
  return [
    `## ${title}`,
    "",
    `${n} agents: ${st.agentKind}, in ${st.agentProcesses} process(es).`,
    "",
    ...(Number.isFinite(st.baselineAcceptMs) ? [`- bare ws server accepting ${n} connections opened at once: **${fmtMs(st.baselineAcceptMs)}**`] : []),
    stop,
    ...(codes ? [`- how the agents' sockets to the old collector ended (close codes): ${codes}`] : []),
    `- from the new collector listening: first resumes at ~${fmtMs(st.histogram.find((b) => b.count > 0)?.from)}, **p50 ${fmtMs(st.resumeP50Ms)}, p99 ${fmtMs(st.resumeP99Ms)}**, all ${st.resumed.toLocaleString("en-US")} resumed after ${fmtMs(st.resumeAllMs)} (${fmtMs(st.resumeAllFromStopMs)} after the stop began)`,
    `- lost: ${st.lost} (${st.changedIds} with a new id, ${st.notResumed} never welcomed)`,
    `- connection attempts per agent after the restart: p50 ${st.attemptsPerAgent.p50}, p99 ${st.attemptsPerAgent.p99}, max ${st.attemptsPerAgent.max}`,
    `- successful attempt to welcome: p50 ${fmtMs(st.handshakeMs.p50)}, p99 ${fmtMs(st.handshakeMs.p99)}`,
    `- restarted collector's CPU while agents came back: ${fmtMs(st.collectorCpuMs)} (${Math.round(st.collectorBusy * 100)} % of one core); agent processes: ${fmtMs(st.agentsProcessCpuMs)} CPU, event-loop delay p99 ${fmtMs(st.agentsLoopDelayMs.p99)}, max ${fmtMs(st.agentsLoopDelayMs.max)}`,
    "",
    ...(st.closeProfile?.top?.length ? ["Where `collector.close()` spent its time (sampling profile of the old collector):", "", ...profileTables(st.closeProfile)] : []),
    "Resumes, by time since the new collector was listening:",
    "",
    "```",
    textHistogram(st.histogram),
    "```",
    "",
    `First reconnect attempts, by time since the old collector was ${st.how === "kill" ? "killed" : "told to stop"} (the backoff spread):`,
    "",
    "```",
    textHistogram(st.firstAttemptHistogram),
    "```",
    "",
  ];
}

/** Query, storm, restart, size and wire details under the verdict table. */
export function detailSections(results) {
  const out = [];
  const q = results.query;
  if (q && !q.error) {
    out.push(
      "## Query latency",
      "",
      `${q.sessions.toLocaleString("en-US")} sessions, ${q.users.toLocaleString("en-US")} users, ${q.projects} projects; ${q.filled}; filled in ${q.fillMs} ms; heap after fill ${fmtMiB(q.heapAfterFill)}.`,
      "",
      "| query | filter | matches | in-process p50 | in-process p99 | HTTP p50 | HTTP p99 |",
      "| --- | --- | --- | --- | --- | --- | --- |",
    );
    const filters = { unfiltered: "-", username: q.filters.username, project: q.filters.project, both: q.filters.both.join(" + "), wildcard: q.filters.wildcard };
    for (const name of ["unfiltered", "username", "project", "both", "wildcard"]) {
      const i = q.inProcess[name];
      const h = q.http[name];
      out.push(`| ${name} | \`${filters[name]}\` | ${q.matches[name].toLocaleString("en-US")} | ${fmtMs(i.p50)} | ${fmtMs(i.p99)} | ${fmtMs(h.p50)} | ${fmtMs(h.p99)} |`);
    }
    const s = q.streaming;
    out.push(
      "",
      `Unfiltered answer: ${s.bodyBytes.toLocaleString("en-US")} bytes, ${s.chunked ? "chunked" : "not chunked"}, ${s.writes} server writes (largest ${s.largestWriteBytes.toLocaleString("en-US")} B), ${s.chunksReceived} chunks received, first byte after ${fmtMs(s.ttfbMs)}, last after ${fmtMs(s.totalMs)}.`,
      "",
    );
  }
  const r = results.redis;
  if (r && !r.error && !r.unavailable) {
    const row = (name, v) => `| ${name} | ${v.n} | ${fmtMs(v.p50)} | ${fmtMs(v.p90)} | ${fmtMs(v.p99)} | ${fmtMs(v.max)} |`;
    out.push(
      "## Two collectors on Redis",
      "",
      `${r.sizes.sessions.toLocaleString("en-US")} sessions of ${r.sizes.users.toLocaleString("en-US")} users written through the Redis store (${r.redis}) in ${r.fillMs} ms by a writer that is neither node; node A, holding none of them, loaded its cluster view in ${r.replicaLoadMs} ms.`,
      "",
      "| what | n | p50 | p90 | p99 | max |",
      "| --- | --- | --- | --- | --- | --- |",
      row("getSessionInfo(username) straight from Redis", r.queryDirectRedis),
      row("getSessionInfo(username) on node A, in process (cluster view)", r.queryReplicaInProcess),
      row("GET /api/v1/sessions?usernameFilter= on node A", r.queryReplicaHttp),
      row("message sent on node A until the page on node B has it", r.crossNodeCommand),
      row("path change on node B until node A's cluster view shows it", r.eventPropagation),
      "",
    );
  }
  if (results.storm && !results.storm.error) out.push(...restartSection("Reconnect storm (graceful restart)", results.storm));
  if (results.restart && !results.restart.error) out.push(...restartSection("Restart after SIGKILL", results.restart));
  const pr = results.profile;
  if (pr && !pr.error) {
    out.push(
      `## Collector hot spots at ${pr.pages.toLocaleString("en-US")} pages`,
      "",
      `V8's sampling profiler over the heartbeat window of one more ingest run of ${pr.server} (${pr.heartbeatRate.toLocaleString("en-US")} heartbeats/s, ${fmtUs(pr.cpuPerHeartbeatUs)} CPU per heartbeat with the profiler on); locations mapped to the TypeScript sources. Busy ${fmtMs(pr.summary.busyMs)}, idle ${fmtMs(pr.summary.idleMs)}.`,
      "",
      ...profileTables(pr.summary),
    );
  }
  const sz = results.size;
  if (sz && !sz.error) {
    out.push("## Agent size", "", "| SDK | minified | min + gzip -9 | how |", "| --- | --- | --- | --- |");
    for (const entry of [sz.ours.iife, sz.ours.esm, ...sz.peers]) {
      if (entry.error) out.push(`| ${entry.name} | ERROR | ${entry.error} | |`);
      else out.push(`| ${entry.name} | ${fmtBytes(entry.minBytes)} | ${fmtBytes(entry.gzipBytes)} | ${entry.how} |`);
    }
    out.push("");
  }
  const w = results.wire;
  if (w && !w.error) {
    out.push(
      "## Bytes on the wire",
      "",
      "| frame | msgpack payload | on the wire (TCP bytes read by the server) |",
      "| --- | --- | --- |",
      `| heartbeat (shared codec, long-lived page: seq 1,234, 1.2 MB sent) | ${w.codec.heartbeatPayload} B | ${w.codec.heartbeatWire} B |`,
      ...(w.agent.error ? [] : [`| heartbeat (real agent) | ${w.agent.heartbeatPayload} B | ${w.agent.heartbeatWire} B |`]),
      `| hello (desktop Chrome UA, no resume, no token) | ${w.codec.helloPayload} B | ${w.codec.helloWire} B |`,
      `| hello with resume credential + JWT | ${w.codec.helloResumeTokenPayload} B | ${w.codec.helloResumeTokenWire} B |`,
      ...(w.agent.error ? [] : [`| hello (real agent in Node: short user agent) | ${w.agent.helloPayload} B | ${w.agent.helloWire} B |`]),
      ...(w.socketIo?.error ? [] : [`| Socket.IO: heartbeat / hello events with the same fields (context) | JSON | ${w.socketIo.heartbeat} B / ${w.socketIo.hello} B |`]),
      "",
    );
  }
  return out.join("\n");
}
