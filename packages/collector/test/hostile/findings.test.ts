// The eleven findings of the attack run (issue 12), one describe block each. Every test here
// failed on the code before its fix.
import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import { chmod, mkdir, readFile, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { CLOSE_CODES } from "@sessionlens/shared";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createCollector } from "@sessionlens/collector";
import { SessionQueries } from "../../src/query/index.js";
import { ResumeCredentials } from "../../src/sessions/credentials.js";
import { TestAgent } from "../helpers/agent.js";
import { ManualClock, eventually, silentLogger, tempDir } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";
import { SseReader } from "../helpers/sse.js";
import { seedSnapshot } from "./helpers.js";

/** A pino logger that keeps every line it writes. */
function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line !== "") lines.push(line);
      done();
    },
  });
  return { logger: pino({ level: "warn" }, stream), lines };
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, "m").exec(text);
  return match === null ? 0 : Number(match[1]);
}

/** Opens a raw TCP connection to the collector. */
function rawSocket(url: string): Promise<Socket> {
  const { port } = new URL(url);
  const socket = connect(Number(port), "127.0.0.1");
  socket.on("error", () => {});
  return new Promise((resolve) => socket.once("connect", () => resolve(socket)));
}

/** Sends raw bytes and collects the whole answer until the server closes (or `timeoutMs`). */
async function rawExchange(url: string, bytes: string, timeoutMs = 5_000): Promise<string> {
  const socket = await rawSocket(url);
  return new Promise((resolve) => {
    let answer = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(answer);
    }, timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      answer += chunk.toString("utf8");
      // One answer is enough: close once the body of a JSON error has arrived.
      if (/\r\n\r\n[\s\S]*\}$/.test(answer) || /content-length: 0\r\n\r\n$/i.test(answer)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(answer);
      }
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.write(bytes);
  });
}

describe("finding 1: an unreadable snapshot", () => {
  const t = useCollector();
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  afterEach(async () => {
    await dir?.remove();
  });

  it("is kept aside (never overwritten), the previous generation is used, and it is counted in /metrics", async () => {
    dir = await tempDir();
    const clock = new ManualClock();
    await t.start({ dataDir: dir.path }, clock);
    const first = await t.join({ bytes: 100 });
    await t.collector.store.flush(); // generation 1: the first session
    const second = await t.join({ bytes: 200 });
    await eventually(async () => expect(await t.collector.getSessionInfo()).toHaveLength(2));
    await t.close(); // generation 2, generation 1 kept as the previous one
    const garbage = '{"version":1,"generation":2,"sessions":[{"id":"trunc';
    await writeFile(join(dir.path, "sessions.json"), garbage);

    await t.start({ dataDir: dir.path }, clock);
    const ids = (await t.collector.getSessionInfo()).map((session) => session.id);
    expect(ids).toContain(first.welcome!.sessionId);
    expect(ids).not.toContain(second.welcome!.sessionId);
    const aside = (await readdir(dir.path)).filter((name) => name.startsWith("sessions.json.unreadable-"));
    expect(aside).toHaveLength(1);
    expect(await metric(t.url, "sessionlens_snapshot_unreadable_total")).toBe(1);
    await t.collector.store.flush();
    expect(await readFile(join(dir.path, aside[0]!), "utf8")).toBe(garbage);
  });

  it("with no previous generation, a session an admin closed is not revived by its old credential", async () => {
    dir = await tempDir();
    const clock = new ManualClock();
    await t.start({ dataDir: dir.path }, clock);
    const agent = await t.join({ bytes: 100 });
    const { sessionId, resume } = agent.welcome!;
    expect((await fetch(`${t.url}/api/v1/sessions/${sessionId}`, { method: "DELETE" })).status).toBe(204);
    await t.close();
    for (const garbage of ["", "\u0000\u0001garbage", '{"version":99,"sessions":[]}']) {
      await writeFile(join(dir.path, "sessions.json"), garbage);
      await rm(join(dir.path, "sessions.json.prev"), { force: true });
      clock.advance(1_000);
      await t.start({ dataDir: dir.path }, clock);
      const back = await t.join({ resume });
      expect(back.welcome!.sessionId).not.toBe(sessionId);
      await t.close();
    }
  });
});

describe("finding 2: an admin close is durable before the 204", () => {
  const t = useCollector();
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  afterEach(async () => {
    await dir?.remove();
  });

  it("the tombstone is on disk when DELETE answers (a SIGKILL right after cannot revive it)", async () => {
    dir = await tempDir();
    // Periodic snapshots far apart: only the DELETE itself can have written the tombstone.
    await t.start({ dataDir: dir.path, snapshotIntervalMs: 600_000 });
    const agent = await t.join();
    const { sessionId } = agent.welcome!;
    expect((await fetch(`${t.url}/api/v1/sessions/${sessionId}`, { method: "DELETE" })).status).toBe(204);
    // What a process killed now would find on disk:
    const snapshot = JSON.parse(await readFile(join(dir.path, "sessions.json"), "utf8")) as { tombstones: [string, number, string][] };
    expect(snapshot.tombstones.map(([id]) => id)).toContain(sessionId);
  });
});

describe("finding 3: a bad request line", () => {
  const t = useCollector();

  it("gets a 400 without a stack trace, and the log stays small however often it is sent", async () => {
    const { logger, lines } = capturingLogger();
    await t.start({ logger });
    const line = `GET http://[/${"A".repeat(12_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;
    for (let i = 0; i < 30; i++) {
      const answer = await rawExchange(t.url, line);
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).not.toMatch(/\n\s+at /);
      expect(answer).toContain('"code":"bad_request"');
    }
    // Capped in rate (the manual clock does not move: one window) and in size per line.
    expect(lines.length).toBeLessThanOrEqual(10);
    for (const written of lines) {
      expect(written.length).toBeLessThan(2_000);
      expect(written).not.toMatch(/\\n\s+at /);
    }
  });
});

describe("finding 4: event-stream fan-out", () => {
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

  it("caps subscribers per client address and in total (429 / 503 too_many_subscribers)", async () => {
    await t.start({ sseMaxSubscribersPerIp: 2, sseMaxSubscribers: 3 });
    const open = async (localAddress: string) =>
      new Promise<number>((resolve, reject) => {
        const { port } = new URL(t.url);
        const req = httpRequest({ host: "127.0.0.1", port, path: "/api/v1/events", localAddress, headers: { host: "127.0.0.1" } }, (res) => {
          resolve(res.statusCode ?? 0);
          sockets.push(res.socket);
        });
        req.on("error", reject);
        req.end();
      });
    expect(await open("127.0.0.1")).toBe(200);
    expect(await open("127.0.0.1")).toBe(200);
    expect(await open("127.0.0.1")).toBe(429);
    expect(await open("127.0.0.2")).toBe(200);
    expect(await open("127.0.0.3")).toBe(503);
    expect(await metric(t.url, "sessionlens_sse_refused_total")).toBe(2);
  });

  it("serialises each change once for all subscribers", async () => {
    await t.start({ sseCoalesceMs: 10, sseMaxSubscribersPerIp: 100 });
    const agent = await t.join();
    const id = agent.welcome!.sessionId;
    const readers = await Promise.all(Array.from({ length: 20 }, () => SseReader.open(`${t.url}/api/v1/events`)));
    try {
      await Promise.all(readers.map((reader) => reader.waitFor((event) => event.type === "snapshot")));
      const serialise = vi.spyOn(SessionQueries.prototype, "sessionJson");
      agent.report("/changed", 500);
      await Promise.all(readers.map((reader) => reader.waitFor((event) => event.type === "upsert" && JSON.parse(event.data).totalBytesSent === 500)));
      const ofThisSession = serialise.mock.calls.filter(([session]) => session.id === id);
      serialise.mockRestore();
      expect(ofThisSession).toHaveLength(1);
    } finally {
      for (const reader of readers) reader.close();
    }
  });

  it("drops a subscriber that stops reading within seconds, whatever the kernel buffers absorb", async () => {
    // A snapshot far larger than loopback socket buffers hold (about 20 MB), restored at start.
    dir = await tempDir();
    const clock = new ManualClock();
    await seedSnapshot(dir.path, 30_000, clock.now());
    await t.start({ dataDir: dir.path, sessionTimeoutMs: 3_600_000, sseStallMs: 500, sseMaxBufferBytes: 64 * 1024 * 1024 }, clock);
    expect((await t.collector.getSessionInfo()).length).toBe(30_000);
    const socket = await rawSocket(t.url);
    sockets.push(socket);
    socket.write("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    socket.pause();
    await eventually(async () => expect(await metric(t.url, "sessionlens_sse_dropped_total")).toBe(1), { timeoutMs: 15_000 });
    expect(await metric(t.url, "sessionlens_sse_subscribers")).toBe(0);
  }, 30_000);
});

describe("finding 5: HTTP slowloris", () => {
  const t = useCollector();
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
  });

  it("caps the HTTP connections one address holds; more are closed on arrival and counted", async () => {
    await t.start({ maxHttpConnectionsPerIp: 3 });
    const closed: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const socket = await rawSocket(t.url);
      sockets.push(socket);
      closed[i] = false;
      socket.on("close", () => (closed[i] = true));
    }
    await eventually(() => expect(closed.filter(Boolean)).toHaveLength(2));
    expect(closed.slice(0, 3)).toEqual([false, false, false]);
    // Read in-process: a scrape over HTTP would be one more connection from this address.
    expect(await t.collector.metrics.metrics()).toMatch(/^sessionlens_http_connections_refused_total 2$/m);
  });

  it("cuts off a request whose headers never finish (408), and sets the global connection cap", async () => {
    await t.start({ headersTimeoutMs: 1_000, maxConnections: 1_234 });
    expect(t.collector.server.maxConnections).toBe(1_234);
    expect(t.collector.server.keepAliveTimeout).toBe(5_000);
    const answer = await rawExchange(t.url, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a", 10_000);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  }, 20_000);

  it("cuts off a request whose body never finishes (408)", async () => {
    await t.start({ requestTimeoutMs: 1_500, headersTimeoutMs: 1_000 });
    const agent = await t.join();
    const slowBody =
      `POST /api/v1/sessions/${agent.welcome!.sessionId}/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"type":"x",';
    const answer = await rawExchange(t.url, slowBody, 10_000);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(agent.frames.filter((frame) => frame.type === "message")).toEqual([]);
  }, 20_000);
});

describe("finding 6: DNS rebinding and CSRF", () => {
  const t = useCollector();

  it("bound to loopback, serves only loopback Host names by default (403 host_not_allowed otherwise)", async () => {
    await t.start();
    const { port } = new URL(t.url);
    const get = (host: string) => rawExchange(t.url, `GET /api/v1/sessions HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    expect(await get("evil.example")).toMatch(/^HTTP\/1\.1 403 [\s\S]*host_not_allowed/);
    expect(await get(`evil.example:${port}`)).toMatch(/^HTTP\/1\.1 403 /);
    expect(await get(`localhost:${port}`)).toMatch(/^HTTP\/1\.1 200 /);
    expect(await get(`127.0.0.1:${port}`)).toMatch(/^HTTP\/1\.1 200 /);
    expect(await get(`[::1]:${port}`)).toMatch(/^HTTP\/1\.1 200 /);
  });

  it("with --allowed-hosts, serves exactly those names", async () => {
    await t.start({ allowedHosts: ["sessions.example.com"] });
    const get = (host: string) => rawExchange(t.url, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    expect(await get("sessions.example.com:443")).toMatch(/^HTTP\/1\.1 200 /);
    expect(await get("localhost")).toMatch(/^HTTP\/1\.1 403 /);
  });

  it("a body without Content-Type: application/json gets 415 and is not delivered; nosniff on every answer", async () => {
    await t.start();
    const agent = await t.join();
    const url = `${t.url}/api/v1/sessions/${agent.welcome!.sessionId}/messages`;
    const plain = await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: '{"type":"x","payload":1}' });
    expect(plain.status).toBe(415);
    expect(((await plain.json()) as { error: { code: string } }).error.code).toBe("unsupported_media_type");
    const json = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: '{"type":"y","payload":1}' });
    expect(json.status).toBe(202);
    await agent.seen("message");
    expect(agent.frames.filter((frame) => frame.type === "message")).toHaveLength(1);
    for (const path of ["/healthz", "/nope", "/api/v1/sessions", "/metrics", "/"]) {
      expect((await fetch(`${t.url}${path}`)).headers.get("x-content-type-options"), path).toBe("nosniff");
    }
  });

  it("warns at start when bound to a non-loopback address without an API token", async () => {
    const { logger, lines } = capturingLogger();
    await t.start({ host: "0.0.0.0", logger });
    expect(lines.some((line) => line.includes("no API token"))).toBe(true);
    await t.close();
    const quiet = capturingLogger();
    await t.start({ host: "0.0.0.0", apiToken: "t0ken", logger: quiet.logger });
    expect(quiet.lines.some((line) => line.includes("no API token"))).toBe(false);
  });
});

describe("finding 7: limits per exact address only", () => {
  const t = useCollector();
  const joinFrom = (address: string) => t.connect({ headers: { "x-forwarded-for": address } });

  it("a global burst caps what several source addresses open together", async () => {
    await t.start({ trustProxy: ["loopback"], connectionBurstPerIp: 2, connectionBurst: 3, connectionRate: 0.001, connectionRatePerIp: 0.001 });
    const agents: TestAgent[] = [];
    for (const address of ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) for (let i = 0; i < 2; i++) agents.push(await joinFrom(address));
    const codes = await Promise.all(
      agents.map(async (agent) => {
        const outcome = await Promise.race([agent.closed.then(({ code }) => code), agent.hello().then(() => 0)]);
        return outcome;
      }),
    );
    expect(codes.filter((code) => code === 0)).toHaveLength(3);
    expect(codes.filter((code) => code === CLOSE_CODES.rateLimited)).toHaveLength(3);
  });

  it("IPv6 addresses count by /64", async () => {
    await t.start({ trustProxy: ["loopback"], maxConnectionsPerIp: 1 });
    const first = await joinFrom("2001:db8:1:2::1");
    await first.hello();
    const sameNetwork = await joinFrom("2001:db8:1:2:ffff::9");
    expect((await sameNetwork.closed).code).toBe(CLOSE_CODES.rateLimited);
    const otherNetwork = await joinFrom("2001:db8:1:3::1");
    await otherNetwork.hello();
    expect(otherNetwork.welcome).not.toBeNull();
  });
});

describe("finding 8: counters past 2^53", () => {
  const t = useCollector();
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  afterEach(async () => {
    await dir?.remove();
  });

  it("saturate at Number.MAX_SAFE_INTEGER and read back exactly after a restart", async () => {
    dir = await tempDir();
    const clock = new ManualClock();
    await t.start({ dataDir: dir.path }, clock);
    const big = await t.join({ bytes: Number.MAX_SAFE_INTEGER - 10 });
    const other = await t.join({ resume: big.welcome!.resume, bytes: 100 });
    other.heartbeat(1_000);
    big.heartbeat(5);
    await eventually(async () => {
      const [session] = await t.collector.getSessionInfo();
      expect(session!.totalBytesSent).toBe(Number.MAX_SAFE_INTEGER);
    });
    const details = await t.collector.getSession(big.welcome!.sessionId);
    for (const page of details!.pages) expect(Number.isSafeInteger(page.bytes)).toBe(true);
    await t.close();
    await t.start({ dataDir: dir.path }, clock);
    const [restored] = await t.collector.getSessionInfo();
    expect(restored!.totalBytesSent).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe("finding 9: data-dir trust", () => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  afterEach(async () => {
    await dir?.remove();
  });
  const start = (dataDir: string) => createCollector({ port: 0, dataDir, logger: silentLogger, sweepIntervalMs: 20 });

  it("a link planted at the snapshot's temp name is not written through", async () => {
    dir = await tempDir();
    const data = join(dir.path, "data");
    await mkdir(data);
    const victim = join(dir.path, "victim.txt");
    await writeFile(victim, "precious");
    await symlink(victim, join(data, `sessions.json.${process.pid}.tmp`));
    await symlink(victim, join(data, `counters.json.${process.pid}.tmp`));
    const collector = start(data);
    const { wsUrl } = await collector.listen();
    const agent = await TestAgent.join(wsUrl);
    await collector.store.flush();
    agent.heartbeat(10);
    await collector.close();
    expect(await readFile(victim, "utf8")).toBe("precious");
    expect((await stat(join(data, "sessions.json"))).isFile()).toBe(true);
    await agent.drop();
  });

  it("a secret file that is a link, or that group or others can read, is refused with a clear message", async () => {
    dir = await tempDir();
    const linked = join(dir.path, "linked");
    await mkdir(linked);
    const outside = join(dir.path, "world-readable-secret");
    await writeFile(outside, "s3cret-s3cret-s3cret-s3cret-s3cret\n", { mode: 0o644 });
    await chmod(outside, 0o644);
    await symlink(outside, join(linked, "secret"));
    await expect(start(linked).listen()).rejects.toThrow(/symbolic link/);

    const readable = join(dir.path, "readable");
    await mkdir(readable);
    await writeFile(join(readable, "secret"), "s3cret-s3cret-s3cret-s3cret-s3cret\n");
    await chmod(join(readable, "secret"), 0o640);
    await expect(start(readable).listen()).rejects.toThrow(/mode 0640.*chmod 600/);
  });
});

describe("finding 10: --trust-proxy and X-Forwarded-For", () => {
  const t = useCollector();

  it("only a valid IP address becomes the client address; junk leaves the proxy's", async () => {
    await t.start({ trustProxy: ["loopback"] });
    for (const junk of ["x".repeat(6_000), "not-an-ip", "203.0.113.7, <script>", "1.2.3.4.5"]) {
      const agent = await t.join({}, { headers: { "x-forwarded-for": junk } });
      const details = await t.collector.getSession(agent.welcome!.sessionId);
      expect(details!.clientAddress).toBe("127.0.0.1");
    }
    const real = await t.join({}, { headers: { "x-forwarded-for": "203.0.113.7" } });
    expect((await t.collector.getSession(real.welcome!.sessionId))!.clientAddress).toBe("203.0.113.7");
  });
});

describe("finding 11: resume credentials decode strictly", () => {
  it("junk appended to (or inside) the MAC does not verify", () => {
    const credentials = new ResumeCredentials("a-secret-of-enough-length-for-tests");
    const credential = credentials.issue("MyProject", { sessionId: "abc", createdAt: 1, issuedAt: 2 });
    expect(credentials.verify(credential, "MyProject")).not.toBeNull();
    for (const forged of [`${credential}~~`, `${credential}$`, `${credential}=`, `${credential} `, `${credential.slice(0, -1)}!${credential.slice(-1)}`]) {
      expect(credentials.verify(forged, "MyProject"), forged).toBeNull();
    }
  });

  it("a credential with junk appended starts a new session", async () => {
    const t = await import("../helpers/collector.js").then(({ startCollector }) => startCollector());
    try {
      const agent = await TestAgent.join(t.wsUrl);
      const forged = await TestAgent.join(t.wsUrl, { resume: `${agent.welcome!.resume}%%` });
      expect(forged.welcome!.sessionId).not.toBe(agent.welcome!.sessionId);
      await Promise.all([agent.drop(), forged.drop()]);
    } finally {
      await t.close();
    }
  });
});
