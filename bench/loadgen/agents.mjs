// Load generator for the reconnect storm: runs real SessionLens agents in Node
// (startAgent with the `ws` WebSocket). Each agent gets its own WebSocket
// subclass, which binds a loopback source address and records, for that
// agent, every connection attempt and every welcome (time and session id), so
// the storm can be timed without touching the agent's internals.
import { monitorEventLoopDelay } from "node:perf_hooks";
import WebSocket from "ws";
import { decodeCollectorMessage } from "@sessionlens/shared/codec";
import { serveRequests } from "../lib/ipc.mjs";
import { makePopulation } from "../lib/traffic.mjs";

const agents = [];
// This process's own event-loop delay: shows when the load generator, not the collector, is the bottleneck.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
let sourceIndex = 0;
let markCpu = null;

function toBytes(data) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (Array.isArray(data)) return Buffer.concat(data);
  return data;
}

function socketClassFor(record, sources) {
  return class BenchWebSocket extends WebSocket {
    constructor(url, protocols, options) {
      const localAddress = sources[sourceIndex++ % sources.length];
      super(url, protocols, { ...options, localAddress, perMessageDeflate: false });
      record.attempts.push(Date.now());
      this.on("message", (data) => {
        if (typeof data === "string") return;
        const decoded = decodeCollectorMessage(toBytes(data));
        if (decoded.ok && decoded.value.type === "welcome") record.welcomes.push({ at: Date.now(), sessionId: decoded.value.sessionId });
      });
      this.on("close", (code) => record.closes.push({ at: Date.now(), code }));
    }
  };
}

async function start({ url, count, sources, ratePerSecond = 1_000, timeoutMs = 120_000, seed = 11 }) {
  // BENCH_AGENT_MODULE lets a developer point at another build of the agent.
  const { startAgent } = await import(process.env.BENCH_AGENT_MODULE ?? "@sessionlens/agent");
  const nextPage = makePopulation(seed + process.pid);
  const started = Date.now();
  for (let i = 0; i < count; i++) {
    const record = { attempts: [], welcomes: [], closes: [], agent: null, mark: null };
    const { project } = nextPage();
    record.agent = startAgent({ url, project, WebSocket: socketClassFor(record, sources) });
    agents.push(record);
    // Pace the start: a page load storm is not what this benchmark measures.
    const due = started + ((i + 1) * 1000) / ratePerSecond;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
  }
  while (Date.now() - started < timeoutMs && agents.some((a) => a.welcomes.length === 0)) await new Promise((r) => setTimeout(r, 100));
  return { started: agents.length, welcomed: agents.filter((a) => a.welcomes.length > 0).length, elapsedMs: Date.now() - started };
}

/** Remembers each agent's current session id and the welcomes seen so far. */
function mark() {
  loopDelay.reset();
  markCpu = process.cpuUsage();
  for (const a of agents) a.mark = { sessionId: a.welcomes.at(-1)?.sessionId ?? null, welcomes: a.welcomes.length, attempts: a.attempts.length, closes: a.closes.length };
  return { marked: agents.length, at: Date.now() };
}

/** Who has come back since mark(): same id (resumed), a new id (lost), or not yet. */
function status({ details = false } = {}) {
  let resumed = 0;
  let changed = 0;
  let pending = 0;
  const resumeTimes = [];
  const attemptsAfterMark = [];
  const firstAttempts = [];
  // From the connection attempt that succeeded to its welcome: the collector's share of the wait.
  const handshakeMs = [];
  // How each agent's socket to the old collector ended (1001, 1012, 1006 for a cut connection...).
  const closeCodes = {};
  for (const a of agents) {
    const firstClose = a.closes[a.mark.closes];
    if (firstClose !== undefined) closeCodes[firstClose.code] = (closeCodes[firstClose.code] ?? 0) + 1;
    const after = a.welcomes.slice(a.mark.welcomes);
    attemptsAfterMark.push(a.attempts.length - a.mark.attempts);
    if (a.attempts.length > a.mark.attempts) firstAttempts.push(a.attempts[a.mark.attempts]);
    if (after.length === 0) pending++;
    else if (after[0].sessionId === a.mark.sessionId) {
      resumed++;
      resumeTimes.push(after[0].at);
      const attempt = a.attempts.filter((t) => t <= after[0].at).at(-1);
      if (attempt !== undefined) handshakeMs.push(after[0].at - attempt);
    } else changed++;
  }
  if (!details) return { resumed, changed, pending };
  const cpuUs = process.cpuUsage(markCpu);
  const loopDelayMs = { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };
  return { resumed, changed, pending, resumeTimes, attemptsAfterMark, firstAttempts, handshakeMs, closeCodes, loopDelayMs, cpuMs: (cpuUs.user + cpuUs.system) / 1000 };
}

serveRequests({
  start,
  mark,
  status,
  exit: () => {
    for (const a of agents) {
      try {
        a.agent.stop();
      } catch {
        // already stopped
      }
    }
  },
});
