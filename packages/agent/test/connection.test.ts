import { CLOSE_CODES, PERMANENT_CLOSE_CODES, type HelloMessage } from "@sessionlens/shared";
import { beforeEach, describe, expect, it } from "vitest";
import { createConnection, type Connection, type ConnectionEvents } from "../src/connection.js";
import type { Credential, Lease } from "../src/storage.js";
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

describe("backoff", () => {
  it("waits random() * min(max, base * 2^attempt): capped exponential with full jitter", async () => {
    const h = setup();
    h.env.randomValue = 0.5;
    h.connection.connect();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      await flush();
      FakeSocket.last.drop(1006);
      delays.push(h.env.pending()[0]!);
      await h.env.advance(h.env.pending()[0]!);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
  });

  it("draws the delay from the whole range [0, cap): random 0 retries at once, random ~1 near the cap", async () => {
    for (const [random, expected] of [
      [0, 0],
      [0.999, 999],
    ] as const) {
      FakeSocket.reset();
      const h = setup();
      h.env.randomValue = random;
      h.connection.connect();
      await flush();
      FakeSocket.last.drop(1006);
      expect(h.env.pending()[0]).toBeCloseTo(expected, 0);
    }
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
    FakeSocket.last.drop(1006); // welcomed, then dropped at once: still backing off
    expect(h.env.pending()[0]).toBe(2000);
    await h.env.advance(2000);
    await connected(h);
    await h.env.advance(6000);
    FakeSocket.last.drop(1001); // a collector restart after a good connection
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
