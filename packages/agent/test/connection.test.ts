import { CLOSE_CODES, PERMANENT_CLOSE_CODES, type HelloMessage } from "@sessionlens/shared";
import { beforeEach, describe, expect, it } from "vitest";
import { createConnection, type Connection, type ConnectionEvents } from "../src/connection.js";
import type { Credential, Lease } from "../src/credential.js";
import { FakeEnvironment, flush } from "./testUtils/fakeEnvironment.js";
import { FakeSocket } from "./testUtils/fakeSocket.js";

const COUNTERS = { epoch: 1, seq: 0, bytes: 0 };

interface Harness {
  env: FakeEnvironment;
  connection: Connection;
  ended: [number, string][];
  ticks: number;
  welcomes: number;
  released: (Credential | null)[];
  sentBytes: number;
  credential: Credential | null;
}

function setup(WebSocket: new (url: string) => unknown = FakeSocket): Harness {
  const env = new FakeEnvironment();
  const harness = { env, ended: [], ticks: 0, welcomes: 0, released: [], sentBytes: 0, credential: null } as unknown as Harness;
  const events: ConnectionEvents = {
    acquire: async (): Promise<Lease> => ({
      credential: harness.credential,
      release: (next) => harness.released.push(next),
    }),
    hello: (resume): HelloMessage => ({
      type: "hello",
      v: 1,
      project: "P",
      scope: null,
      userAgent: "test",
      pageId: "page-id-123",
      path: "/",
      resume,
      token: null,
      ...COUNTERS,
    }),
    welcome: () => harness.welcomes++,
    message: () => undefined,
    tick: () => {
      harness.ticks++;
      harness.connection.send({ type: "heartbeat", ...COUNTERS }, true);
    },
    sent: (bytes) => (harness.sentBytes += bytes),
    end: (code, reason) => harness.ended.push([code, reason]),
  };
  harness.connection = createConnection(
    {
      url: "ws://collector/ws",
      WebSocket,
      backoffBaseMs: 1000,
      backoffMaxMs: 30_000,
      connectTimeoutMs: 10_000,
      maxBufferedBytes: 65_536,
      ownSockets: new WeakSet(),
    },
    events,
    env,
  );
  return harness;
}

/** Connects and completes the handshake on a new socket. */
async function connected(h: Harness, welcome = {}): Promise<FakeSocket> {
  await flush();
  const socket = FakeSocket.last;
  socket.accept();
  socket.welcome(welcome);
  return socket;
}

beforeEach(() => FakeSocket.reset());

describe("handshake", () => {
  it("opens one socket, sends the hello first with the shared resume credential, and stores the welcome's", async () => {
    const h = setup();
    h.credential = { sessionId: "old", resume: "resume-old" };
    h.connection.connect();
    h.connection.connect(); // no second socket
    await flush();
    expect(FakeSocket.instances).toHaveLength(1);
    const socket = FakeSocket.last;
    expect(socket.binaryType).toBe("arraybuffer");
    expect(h.connection.send({ type: "heartbeat", ...COUNTERS })).toBe(false); // nothing before the hello
    socket.accept();
    expect(socket.frames[0]).toMatchObject({ type: "hello", resume: "resume-old" });
    expect(h.released).toEqual([]); // other tabs wait until the welcome
    socket.welcome({ sessionId: "s2", resume: "r2" });
    expect(h.released).toEqual([{ sessionId: "s2", resume: "r2" }]);
    expect(h.connection.isOpen()).toBe(true);
    expect(h.sentBytes).toBe(socket.frameBytes[0]);
  });

  it("abandons an attempt without a welcome after connectTimeoutMs and hands the lease back", async () => {
    const h = setup();
    h.connection.connect();
    await flush();
    FakeSocket.last.accept();
    await h.env.advance(9_999);
    expect(FakeSocket.instances).toHaveLength(1);
    await h.env.advance(1);
    expect(FakeSocket.instances[0]!.closedWith).toBeUndefined(); // closed, without a "clean" code
    expect(h.released).toEqual([null]);
    await h.env.advance(1000);
    expect(FakeSocket.instances).toHaveLength(2);
  });

  it("retries when the WebSocket constructor throws (bad URL, CSP)", async () => {
    let calls = 0;
    const h = setup(function (url: string) {
      if (++calls === 1) throw new DOMException("blocked", "SecurityError");
      return new FakeSocket(url);
    } as unknown as typeof FakeSocket);
    h.connection.connect();
    await h.env.advance(1000);
    expect(calls).toBe(2);
    expect(h.released).toEqual([null]);
  });
});

/**
 * Plays a collector that refuses every connection for `ms`: the attempt times, in ms after the
 * start. Stops before the first attempt due at or after `ms`, leaving it pending.
 */
async function refuseFor(h: Harness, ms: number): Promise<number[]> {
  const startedAt = h.env.time;
  const attemptsAt: number[] = [];
  let seen = FakeSocket.instances.length;
  for (;;) {
    const nextMs = h.env.pending()[0];
    if (nextMs === undefined || h.env.time + nextMs - startedAt >= ms) return attemptsAt;
    await h.env.advance(nextMs);
    while (FakeSocket.instances.length > seen) {
      attemptsAt.push(h.env.time - startedAt);
      FakeSocket.instances[seen++]!.drop(1006);
    }
  }
}

/** A small deterministic random source (mulberry32), so a spread of agents is reproducible. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A connection that stayed up, then lost with `code`; returns the harness with the retry pending. */
async function dropAfterGoodConnection(h: Harness, code: number): Promise<void> {
  h.connection.connect();
  await connected(h);
  await h.env.advance(6000);
  FakeSocket.last.drop(code);
}

describe("backoff", () => {
  it("draws attempt n uniformly inside its window [0,1s), [1,2s), [2,4s)…: full jitter, windows capped at backoffMaxMs", async () => {
    const h = setup();
    h.env.randomValue = 0.5;
    h.connection.connect();
    await flush();
    FakeSocket.last.drop(1006);
    const attemptsAt = await refuseFor(h, 100_000);
    // Window midpoints: 0.5, 1.5, 3, 6, 12, 24, then 30-s windows from 32 s: 47, 77.
    expect(attemptsAt).toEqual([500, 1500, 3000, 6000, 12_000, 24_000, 47_000, 77_000]);
  });

  it("draws from the whole window: random 0 retries at its start, random ~1 near its end", async () => {
    for (const [random, expected] of [
      [0, [0, 1000, 2000, 4000]],
      [0.999, [999, 1999, 3998, 7996]],
    ] as const) {
      FakeSocket.reset();
      const h = setup();
      h.env.randomValue = random;
      h.connection.connect();
      await flush();
      FakeSocket.last.drop(1006);
      const attemptsAt = await refuseFor(h, 8000);
      expect(attemptsAt.map((ms) => Math.round(ms))).toEqual(expected);
    }
  });

  it.each([1001, 1012])(
    "after a clean %i (the collector restarting) the first retries are spread over [1 s, 2 s), [2 s, 3 s), [3 s, 4 s), then escalate",
    async (code) => {
      for (const [random, first] of [
        [0, 1000],
        [0.5, 1500],
        [0.999, 1999],
      ] as const) {
        FakeSocket.reset();
        const h = setup();
        h.env.randomValue = random;
        await dropAfterGoodConnection(h, code);
        expect(h.env.pending()[0]).toBeCloseTo(first, 0);
        const attemptsAt = await refuseFor(h, 8000);
        // The restart skipped the [0, 1 s) window; the next ones stay a second long while the
        // collector comes back, then double: [2, 3 s), [3, 4 s), [4, 8 s).
        const expected = [first, 2000 + Math.round(1000 * random), 3000 + Math.round(1000 * random), 4000 + Math.round(4000 * random)];
        expect(attemptsAt.map((ms) => Math.round(ms))).toEqual(expected.filter((ms) => ms < 8000));
      }
    },
  );

  it("takes a small first step after other drops of a good connection", async () => {
    const h = setup();
    h.env.randomValue = 0.25;
    await dropAfterGoodConnection(h, 1006);
    expect(h.env.pending()[0]).toBe(250);
  });

  it("never retries in step: agents dropped together spread over each window", async () => {
    const firstRetries: number[] = [];
    const random = seededRandom(7);
    for (let agent = 0; agent < 50; agent++) {
      FakeSocket.reset();
      const h = setup();
      h.env.random = random;
      await dropAfterGoodConnection(h, 1012);
      firstRetries.push(h.env.pending()[0]!);
    }
    expect(Math.min(...firstRetries)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...firstRetries)).toBeLessThan(2000);
    // Spread over the window, not bunched: every tenth of it gets some of the 50 agents.
    const tenths = new Set(firstRetries.map((ms) => Math.floor((ms - 1000) / 100)));
    expect(tenths.size).toBe(10);
  });

  it("keeps the console quiet while the collector stays down: at most 7 attempts in the first minute", async () => {
    const random = seededRandom(42);
    for (const code of [1006, 1012]) {
      for (let agent = 0; agent < 20; agent++) {
        FakeSocket.reset();
        const h = setup();
        h.env.random = random;
        await dropAfterGoodConnection(h, code);
        const attemptsAt = await refuseFor(h, 60_000);
        expect(attemptsAt.length).toBeGreaterThanOrEqual(5);
        expect(attemptsAt.length).toBeLessThanOrEqual(7);
      }
    }
  });

  it("reaches a collector that is back 1.3 s after it died within its next window (under 3 s)", async () => {
    const random = seededRandom(3);
    const backAfterMs: number[] = [];
    for (let agent = 0; agent < 50; agent++) {
      FakeSocket.reset();
      const h = setup();
      h.env.random = random;
      await dropAfterGoodConnection(h, 1006);
      const droppedAt = h.env.time;
      const before = FakeSocket.instances.length;
      await refuseFor(h, 1300);
      await h.env.advance(h.env.pending()[0]!);
      expect(FakeSocket.last.readyState).toBe(0); // the attempt that finds the collector back
      expect(FakeSocket.instances.length).toBeGreaterThan(before);
      backAfterMs.push(h.env.time - droppedAt - 1300);
    }
    expect(Math.max(...backAfterMs)).toBeLessThan(3000);
  });

  it("starts from scratch after a connection that stayed up, not after one that dropped at once", async () => {
    const h = setup();
    h.env.randomValue = 0.5;
    h.connection.connect();
    await flush();
    FakeSocket.last.drop(1006);
    await h.env.advance(500);
    FakeSocket.last.drop(1006);
    await h.env.advance(1000);
    await connected(h);
    FakeSocket.last.drop(1006); // welcomed, then dropped at once: still in the same schedule
    expect(h.env.pending()[0]).toBe(1500); // window [2 s, 4 s) from the first drop, 1.5 s ago
    await h.env.advance(1500);
    await connected(h);
    await h.env.advance(6000);
    FakeSocket.last.drop(1006); // a drop after a good connection: the schedule starts over
    expect(h.env.pending()[0]).toBe(500);
  });

  it("wake() skips the wait (online, visible), and does nothing while connected", async () => {
    const h = setup();
    h.connection.connect();
    await flush();
    FakeSocket.last.drop(1006);
    await h.env.advance(100);
    h.connection.wake();
    await flush();
    expect(FakeSocket.instances).toHaveLength(2);
    await connected(h);
    h.connection.wake();
    await flush();
    expect(FakeSocket.instances).toHaveLength(2);
  });
});

describe("close codes", () => {
  it.each(PERMANENT_CLOSE_CODES.map((code) => [code]))("stops for good on %i", async (code) => {
    const h = setup();
    h.connection.connect();
    const socket = await connected(h);
    socket.drop(code, "because");
    expect(h.ended).toEqual([[code, "because"]]);
    await h.env.advance(120_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it.each([1000, 1001, 1006, 1011, CLOSE_CODES.rateLimited, CLOSE_CODES.helloTimeout, 1008])(
    "reconnects with backoff after %i",
    async (code) => {
      const h = setup();
      h.connection.connect();
      const socket = await connected(h);
      socket.drop(code);
      expect(h.ended).toEqual([]);
      await h.env.advance(1000);
      expect(FakeSocket.instances).toHaveLength(2);
    },
  );
});

describe("heartbeats and dead sockets", () => {
  it("ticks at the welcome's heartbeatMs", async () => {
    const h = setup();
    h.connection.connect();
    const socket = await connected(h, { heartbeatMs: 3000, idleTimeoutMs: 0 });
    await h.env.advance(2999);
    expect(h.ticks).toBe(0);
    await h.env.advance(1);
    expect(h.ticks).toBe(1);
    await h.env.advance(9000);
    expect(h.ticks).toBe(4);
    expect(socket.types().filter((type) => type === "heartbeat")).toHaveLength(4);
  });

  it("treats a socket that received nothing for idleTimeoutMs as dead, without waiting for its close event", async () => {
    const h = setup();
    h.connection.connect();
    const socket = await connected(h, { heartbeatMs: 10_000, idleTimeoutMs: 25_000 });
    await h.env.advance(20_000);
    expect(FakeSocket.instances).toHaveLength(1);
    await h.env.advance(10_000); // the tick at 30 s finds 30 s of silence
    expect(socket.closedWith).toBeUndefined();
    expect(h.connection.isOpen()).toBe(false);
    await h.env.advance(1000);
    expect(FakeSocket.instances).toHaveLength(2);
  });

  it("any frame from the collector keeps the socket alive", async () => {
    const h = setup();
    h.connection.connect();
    const socket = await connected(h, { heartbeatMs: 10_000, idleTimeoutMs: 25_000 });
    for (let i = 0; i < 10; i++) {
      await h.env.advance(10_000);
      socket.deliver({ type: "message", messageType: "keepalive", payload: null });
    }
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it("wake() drops a socket that went silent while the device slept", async () => {
    const h = setup();
    h.connection.connect();
    await connected(h, { heartbeatMs: 10_000, idleTimeoutMs: 25_000 });
    h.env.time += 60_000; // timers did not run during the sleep
    h.connection.wake();
    expect(h.connection.isOpen()).toBe(false);
    await h.env.advance(1000);
    expect(FakeSocket.instances).toHaveLength(2);
  });

  it("skips optional frames while the socket is congested", async () => {
    const h = setup();
    h.connection.connect();
    const socket = await connected(h);
    socket.bufferedAmount = 100_000;
    expect(h.connection.send({ type: "heartbeat", ...COUNTERS }, true)).toBe(false);
    expect(h.connection.send({ type: "token", token: null })).toBe(true);
  });
});

describe("close()", () => {
  it("sends the last frame, closes with 1000 and stays down until connect()", async () => {
    const h = setup();
    h.connection.connect();
    const socket = await connected(h);
    h.connection.close({ type: "bye", ...COUNTERS });
    expect(socket.types().at(-1)).toBe("bye");
    expect(socket.closedWith).toBe(1000);
    await h.env.advance(120_000);
    expect(FakeSocket.instances).toHaveLength(1);
    h.connection.wake();
    await flush();
    expect(FakeSocket.instances).toHaveLength(1);
    h.connection.connect();
    await flush();
    expect(FakeSocket.instances).toHaveLength(2);
  });

  it("cancels an attempt still waiting for its lease", async () => {
    const h = setup();
    h.connection.connect();
    h.connection.close();
    await flush();
    expect(FakeSocket.instances).toHaveLength(0);
    expect(h.released).toEqual([null]);
  });

  it("cancels a pending reconnect", async () => {
    const h = setup();
    h.connection.connect();
    await flush();
    FakeSocket.last.drop(1006);
    h.connection.close();
    await h.env.advance(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });
});
