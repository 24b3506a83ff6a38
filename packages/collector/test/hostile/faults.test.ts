// Faults, nothing lost: the ground truth is what the test's own agents counted; the collector must
// end up with exactly that through cuts, duplicates, reordering, a SIGKILL and slow clients.
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { TestAgent } from "../helpers/agent.js";
import { ManualClock, eventually, tempDir } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";
import { metricValue, rejected, seedSnapshot } from "./helpers.js";

const BIN = join(import.meta.dirname, "..", "..", "bin", "sessionlens.js");

/** A small deterministic random source (the runs are reproducible). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/** One page as a real agent keeps it: cumulative counters, resent in full on every reconnect. */
class TruthPage {
  agent!: TestAgent;
  constructor(
    readonly pageId: string,
    readonly epoch: number,
  ) {}
  bytes = 0;
  seq = 0;
}

async function reconnect(wsUrl: string, page: TruthPage, resume: string | null): Promise<TestAgent> {
  const agent = await TestAgent.connect(wsUrl);
  agent.seq = page.seq;
  await agent.hello({ resume, pageId: page.pageId, epoch: page.epoch, bytes: page.bytes, seq: page.seq++ });
  page.agent = agent;
  return agent;
}

describe("faults: cuts, duplicates and reordering", () => {
  const t = useCollector();

  it("totals exactly equal the agents' ground truth", async () => {
    await t.start({ maxMessagesPerWindow: 100_000 });
    const next = random(12);
    const sessions: { resume: string; id: string; pages: TruthPage[] }[] = [];
    for (let s = 0; s < 8; s++) {
      const first = new TruthPage(`page-${s}-0-xxxxxxxx`, 1_764_000_000_000 + s);
      const agent = await reconnect(t.wsUrl, first, null);
      const session = { resume: agent.welcome!.resume, id: agent.welcome!.sessionId, pages: [first] };
      for (let p = 1; p < 3; p++) {
        const page = new TruthPage(`page-${s}-${p}-xxxxxxxx`, 1_764_000_000_000 + s * 10 + p);
        await reconnect(t.wsUrl, page, session.resume);
        session.pages.push(page);
      }
      sessions.push(session);
    }
    for (let round = 0; round < 400; round++) {
      const session = sessions[Math.floor(next() * sessions.length)]!;
      const page = session.pages[Math.floor(next() * session.pages.length)]!;
      const roll = next();
      if (roll < 0.1) {
        // A network cut mid-stream: frames in flight may be lost; the reconnect resends everything.
        page.bytes += 17;
        page.agent.send({ type: "heartbeat", epoch: page.epoch, seq: page.seq++, bytes: page.bytes });
        await page.agent.drop();
        await reconnect(t.wsUrl, page, session.resume);
      } else {
        const added = 1 + Math.floor(next() * 1_000);
        page.bytes += added;
        const frame = { type: roll < 0.5 ? "heartbeat" : "report", epoch: page.epoch, seq: page.seq++, bytes: page.bytes, path: `/r${round}` };
        const older = { ...frame, seq: frame.seq - 1, bytes: page.bytes - added };
        if (roll < 0.3) {
          // Reordered: the newer frame first, then the older one.
          page.agent.send(frame);
          page.agent.send(older);
        } else {
          page.agent.send(frame);
          if (roll > 0.8) page.agent.send(frame); // duplicated
        }
      }
    }
    await eventually(async () => {
      const listed = await t.collector.getSessionInfo();
      for (const session of sessions) {
        const truth = session.pages.reduce((sum, page) => sum + page.bytes, 0);
        expect(listed.find((info) => info.id === session.id)!.totalBytesSent).toBe(truth);
      }
    }, { timeoutMs: 10_000 });
    expect(await t.collector.getSessionInfo()).toHaveLength(sessions.length);
  }, 60_000);
});

/** Runs `sessionlens serve` (the built CLI) in a child process. */
async function startChild(dataDir: string): Promise<{ child: ChildProcess; url: string; wsUrl: string }> {
  const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--data-dir", dataDir, "--page-grace", "60s"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, SESSIONLENS_LOG_LEVEL: "info" },
  });
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const match = /"url":"(http:\/\/[^"]+)"/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.once("exit", (code) => reject(new Error(`the collector exited (${code}): ${output}`)));
  });
  return { child, url, wsUrl: `${url.replace("http", "ws")}/ws` };
}

describe("faults: SIGKILL under load, then restart", () => {
  let child: ChildProcess | undefined;
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  const agents: TestAgent[] = [];
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((agent) => agent.drop()));
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await dir?.remove();
  });

  it("every session resumes with the same id, uptime continuing, totals exact; a closed session stays closed", async () => {
    dir = await tempDir();
    const first = await startChild(dir.path);
    child = first.child;
    const sessions: { resume: string; id: string; pages: TruthPage[]; closedBytes: number }[] = [];
    for (let s = 0; s < 20; s++) {
      const page = new TruthPage(`kill-${s}-aaaaaaaa`, 1_764_000_000_000);
      page.bytes = 100 + s;
      const agent = await reconnect(first.wsUrl, page, null);
      agents.push(agent);
      // A second page that closes before the kill: its bytes only the collector's disk can keep.
      const leaving = new TruthPage(`kill-${s}-bbbbbbbb`, 1_764_000_000_001);
      leaving.bytes = 1_000 + s;
      const left = await reconnect(first.wsUrl, leaving, agent.welcome!.resume);
      left.bye();
      await left.close();
      sessions.push({ resume: agent.welcome!.resume, id: agent.welcome!.sessionId, pages: [page], closedBytes: leaving.bytes });
    }
    const closed = sessions.pop()!;
    expect((await fetch(`${first.url}/api/v1/sessions/${closed.id}`, { method: "DELETE" })).status).toBe(204);
    // Load: heartbeats from every page while the snapshot (with the closed pages) reaches the disk.
    const load = setInterval(() => {
      for (const session of sessions) {
        for (const page of session.pages) {
          page.bytes += 3;
          page.agent.send({ type: "heartbeat", epoch: page.epoch, seq: page.seq++, bytes: page.bytes });
        }
      }
    }, 20);
    try {
      await eventually(async () => {
        const snapshot = JSON.parse(await readFile(join(dir!.path, "sessions.json"), "utf8")) as { sessions: { id: string; closedPagesBytes: number }[] };
        for (const session of sessions) expect(snapshot.sessions.find((saved) => saved.id === session.id)?.closedPagesBytes).toBe(session.closedBytes);
      }, { timeoutMs: 15_000 });
      const before = (await (await fetch(`${first.url}/api/v1/sessions`)).json()) as { id: string; uptime: number }[];
      child.kill("SIGKILL");
      await new Promise((resolve) => child!.once("exit", resolve));
      clearInterval(load);
      await Promise.all(agents.splice(0).map((agent) => agent.drop()));

      const second = await startChild(dir.path);
      child = second.child;
      for (const session of sessions) {
        for (const page of session.pages) {
          const agent = await reconnect(second.wsUrl, page, session.resume);
          agents.push(agent);
          expect(agent.welcome!.sessionId).toBe(session.id);
        }
      }
      const revived = await reconnect(second.wsUrl, closed.pages[0]!, closed.resume);
      agents.push(revived);
      expect(revived.welcome!.sessionId).not.toBe(closed.id);
      await eventually(async () => {
        const after = (await (await fetch(`${second.url}/api/v1/sessions`)).json()) as { id: string; uptime: number; totalBytesSent: number }[];
        for (const session of sessions) {
          const info = after.find((candidate) => candidate.id === session.id)!;
          expect(info.totalBytesSent).toBe(session.closedBytes + session.pages.reduce((sum, page) => sum + page.bytes, 0));
          expect(info.uptime).toBeGreaterThanOrEqual(before.find((candidate) => candidate.id === session.id)!.uptime);
        }
      });
    } finally {
      clearInterval(load);
    }
  }, 60_000);

  it("a DELETE followed at once by SIGKILL: the session does not come back", async () => {
    dir = await tempDir();
    const first = await startChild(dir.path);
    child = first.child;
    const page = new TruthPage("closed-then-killed", 1_764_000_000_000);
    const agent = await reconnect(first.wsUrl, page, null);
    agents.push(agent);
    const { sessionId, resume } = agent.welcome!;
    expect((await fetch(`${first.url}/api/v1/sessions/${sessionId}`, { method: "DELETE" })).status).toBe(204);
    child.kill("SIGKILL");
    await new Promise((resolve) => child!.once("exit", resolve));
    await Promise.all(agents.splice(0).map((open) => open.drop()));

    const second = await startChild(dir.path);
    child = second.child;
    const back = await reconnect(second.wsUrl, page, resume);
    agents.push(back);
    expect(back.welcome!.sessionId).not.toBe(sessionId);
    const listed = (await (await fetch(`${second.url}/api/v1/sessions`)).json()) as { id: string }[];
    expect(listed.map((session) => session.id)).not.toContain(sessionId);
  }, 60_000);
});

describe("faults: half-open clients and slow consumers", () => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  afterEach(async () => {
    await dir?.remove();
    dir = undefined;
  });
  const t = useCollector();
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
  });

  it("a half-open client (no pongs, no frames) is terminated and counted as missed_pong", async () => {
    const heartbeatMs = 500;
    await t.start({ heartbeatMs });
    const alive = await t.join();
    const halfOpen = await t.join({}, { autoPong: false });
    const started = Date.now();
    await halfOpen.closed;
    const elapsed = Date.now() - started;
    expect(await rejected(t.collector, "missed_pong")).toBe(1);
    // Two liveness rounds plus the pong wait (at least 1 s), with room for a slow machine.
    expect(elapsed).toBeLessThan(2 * heartbeatMs + 1_000 + 5_000);
    alive.heartbeat(1);
    expect(alive.ws.readyState).toBe(1);
  }, 20_000);

  it("a slow event-stream consumer and a slow HTTP client: memory bounded, others answered", async () => {
    dir = await tempDir();
    const clock = new ManualClock();
    await seedSnapshot(dir.path, 20_000, clock.now(), "slow");
    await t.start({ dataDir: dir.path, sessionTimeoutMs: 3_600_000, sseMaxBufferBytes: 256 * 1024, sseStallMs: 2_000, maxMessagesPerWindow: 100_000 }, clock);
    const heapBefore = process.memoryUsage().heapUsed;
    const { port } = new URL(t.url);
    const slow = async (path: string) => {
      const socket = connect(Number(port), "127.0.0.1");
      socket.on("error", () => {});
      sockets.push(socket);
      await new Promise((resolve) => socket.once("connect", resolve));
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      socket.pause(); // reads nothing
    };
    await slow("/api/v1/events");
    await slow("/api/v1/sessions");
    await slow("/api/v1/sessions");
    // Everyone else is answered meanwhile.
    const watcher = await t.join();
    for (let i = 0; i < 5; i++) {
      expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${t.url}/api/v1/sessions/slow-${i}`)).status).toBe(200);
    }
    watcher.heartbeat(5);
    await eventually(async () => expect((await t.collector.getSession(watcher.welcome!.sessionId))!.totalBytesSent).toBe(5));
    await eventually(async () => expect(await metricValue(t.collector, "sessionlens_sse_dropped_total")).toBe(1), { timeoutMs: 15_000 });
    // The whole list is about 15 MB of JSON per slow client: none of it is held beyond a few chunks.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(100 * 1024 * 1024);
  }, 60_000);
});
