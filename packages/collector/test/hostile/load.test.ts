// Load: a storm of real agents connecting at once (they back off and retry on their own), and a
// churn soak: sessions joining and leaving continuously, after which heap and session index are
// back to baseline. SESSIONLENS_SOAK=1 runs the 10-minute soak; CI runs the 60-second one.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { decodeCollectorMessage } from "@sessionlens/shared/codec";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { TestAgent } from "../helpers/agent.js";
import { eventually, tempDir } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";
import { SOAK } from "./helpers.js";

const BIN = join(import.meta.dirname, "..", "..", "bin", "sessionlens.js");
const STORM_AGENTS = 10_000;
/** Loopback source addresses: 100 agents each, as from 100 hosts (127.0.0.0/8 is all loopback). */
const SOURCES = Array.from({ length: 100 }, (_, i) => `127.0.1.${i + 10}`);

/** The parts of the real agent this test drives (imported at run time: the collector's tests are typechecked without the DOM). */
interface Agent {
  stop(): void;
}
type StartAgent = (options: { url: string; project: string; WebSocket: unknown; storage: boolean }) => Agent;
const AGENT_MODULE = "@sessionlens/agent";

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function forceGc(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

describe("load: 10,000 agents connecting at once", () => {
  let child: ChildProcess | undefined;
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  const agents: Agent[] = [];
  afterEach(async () => {
    for (const agent of agents.splice(0)) agent.stop();
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await dir?.remove();
  });

  it("all connect (with backoff on refusals), handshake latency bounded", async () => {
    dir = await tempDir();
    // The collector in its own process (its own descriptors and core), as users run it.
    child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--data-dir", dir.path], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const url = await new Promise<string>((resolve, reject) => {
      child!.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString("utf8");
        const match = /"wsUrl":"(ws:\/\/[^"]+)"/.exec(output);
        if (match) resolve(match[1]!);
      });
      child!.once("exit", (code) => reject(new Error(`the collector exited (${code}): ${output}`)));
    });
    const { startAgent } = (await import(/* @vite-ignore */ AGENT_MODULE)) as { startAgent: StartAgent };
    const attempts: number[][] = [];
    const welcomedAt: number[] = [];
    const sessionIds: string[] = [];
    let sourceIndex = 0;
    for (let i = 0; i < STORM_AGENTS; i++) {
      const mine: number[] = (attempts[i] = []);
      class StormWebSocket extends WebSocket {
        constructor(address: string, protocols?: string | string[], options?: WebSocket.ClientOptions) {
          super(address, protocols, { ...options, localAddress: SOURCES[sourceIndex++ % SOURCES.length], perMessageDeflate: false });
          mine.push(Date.now());
          this.on("message", (data: Buffer, isBinary: boolean) => {
            if (!isBinary || welcomedAt[i] !== undefined) return;
            const decoded = decodeCollectorMessage(data);
            if (decoded.ok && decoded.value.type === "welcome") {
              welcomedAt[i] = Date.now();
              sessionIds[i] = decoded.value.sessionId;
            }
          });
        }
      }
      agents.push(startAgent({ url, project: `Storm${i % 7}`, WebSocket: StormWebSocket, storage: false }));
    }
    await eventually(() => expect(welcomedAt.filter((at) => at !== undefined)).toHaveLength(STORM_AGENTS), { timeoutMs: 150_000 });
    // Handshake latency: from the attempt that succeeded to its welcome.
    const latencies = welcomedAt.map((at, i) => at - attempts[i]!.filter((attempt) => attempt <= at).at(-1)!);
    const retried = attempts.filter((list) => list.length > 1).length;
    console.log(
      `storm: ${STORM_AGENTS} agents welcomed; handshake p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, max ${Math.max(...latencies)} ms; ${retried} retried`,
    );
    expect(percentile(latencies, 99)).toBeLessThan(60_000);
    // Every agent's session is listed. (An attempt abandoned before its welcome may have left a
    // session of its own, which times out like any session whose page never came back.)
    const listed = (await (await fetch(`${url.replace("ws", "http").replace(/\/ws$/, "")}/api/v1/sessions`)).json()) as { id: string }[];
    const listedIds = new Set(listed.map((session) => session.id));
    expect(new Set(sessionIds).size).toBe(STORM_AGENTS);
    expect(sessionIds.filter((id) => !listedIds.has(id))).toEqual([]);
  }, 240_000);
});

describe("load: churn soak", () => {
  const t = useCollector();
  const durationMs = SOAK ? 10 * 60_000 : 60_000;
  const sessionSeries = async () => {
    const values = (await t.collector.metrics.getSingleMetric("sessionlens_sessions")!.get()).values;
    return values.filter((value) => value.value > 0).length;
  };

  it(`sessions join and leave for ${durationMs / 1000} s; heap and session index back to baseline afterwards`, async () => {
    const sessionTimeoutMs = 5_000;
    await t.start({
      sessionTimeoutMs,
      pageGraceMs: 2_000,
      maxMessagesPerWindow: 1_000,
      connectionBurstPerIp: 100_000,
      connectionRatePerIp: 100_000,
      maxConnectionsPerIp: 100_000,
    });
    forceGc();
    const baseline = { heap: process.memoryUsage().heapUsed, series: await sessionSeries() };
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const live = new Set<TestAgent>();
    const started = Date.now();
    let joined = 0;
    let tick = 0;
    while (Date.now() - started < durationMs) {
      tick++;
      // About 40 joins per 100 ms tick, a third of them resuming a live session; leave as fast.
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < 40; i++) {
        const pool = i % 3 === 0 ? [...live] : [];
        const resumeFrom = pool[Math.floor(Math.random() * pool.length)];
        pending.push(
          TestAgent.join(t.wsUrl, { resume: resumeFrom?.welcome?.resume ?? null, project: `P${tick % 13}`, path: `/t${tick}`, bytes: i }).then((agent) => {
            live.add(agent);
            joined++;
          }),
        );
      }
      await Promise.all(pending);
      for (const agent of [...live].slice(0, Math.max(0, live.size - 400))) {
        live.delete(agent);
        if (agent.pageId.charCodeAt(0) % 2 === 0) {
          agent.bye();
          await agent.close();
        } else {
          await agent.drop(); // a cut: the page leaves after its grace period
        }
      }
      for (const agent of live) agent.heartbeat(3);
      t.clock.advance(500);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    loop.disable();
    await Promise.all([...live].map((agent) => agent.drop()));
    live.clear();
    // Every page's grace and every session's timeout runs out.
    t.clock.advance(2_000 + 1_000);
    await eventually(async () => expect((await t.collector.getSessionInfo()).every((session) => session.activePages === 0)).toBe(true), { timeoutMs: 10_000 });
    t.clock.advance(sessionTimeoutMs + 1_000);
    await eventually(async () => expect(await t.collector.getSessionInfo()).toEqual([]), { timeoutMs: 10_000 });
    // The session index is empty again: no session and no (scope, project) series left over.
    expect(await sessionSeries()).toEqual(baseline.series);
    forceGc();
    const heapAfter = process.memoryUsage().heapUsed;
    console.log(
      `churn: ${joined} joins in ${durationMs / 1000} s; event-loop delay p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms; ` +
        `heap ${(baseline.heap / 1e6).toFixed(1)} MB before, ${(heapAfter / 1e6).toFixed(1)} MB after`,
    );
    expect(joined).toBeGreaterThan(1_000);
    // Tombstones of the ended sessions stay (by design, ~50 bytes each); everything else is gone.
    expect(heapAfter - baseline.heap).toBeLessThan(16 * 1024 * 1024 + joined * 400);
  }, (SOAK ? 12 : 3) * 60_000);
});
