// Benchmark 5b: bytes on the wire per heartbeat and per hello.
//
// Three views: the msgpack payload from the shared codec; the TCP bytes a
// server actually reads for one client frame (payload + WebSocket header and
// mask), counted on a loopback socket; and the frames the real agent sends,
// captured by handing startAgent() a WebSocket class that records what it sends
// to a stand-in collector that only answers the hello with a welcome.
import { once } from "node:events";
import { WebSocketServer, WebSocket } from "ws";
import { Server as SocketIoServer } from "socket.io";
import { io as ioClient } from "socket.io-client";
import { encodeMessage, decodeAgentMessage } from "@sessionlens/shared/codec";
import { PROTOCOL_VERSION } from "@sessionlens/shared";
import { USER_AGENTS, pageId } from "../lib/traffic.mjs";
import { sleep } from "../lib/stats.mjs";

// A realistic resume credential and identity token, sized like real ones.
const RESUME = "v1.Yq3k0cT3mZC9rW1kX6aP2.1732612345678.2bJX4Q0e8n2xYqH0m1Hc9oR6W4sT3uV7aZ5kL8pD1fE";
const JWT =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJiaWxseSIsImlhdCI6MTczMjYxMjM0NSwiZXhwIjoxNzMyNjE1OTQ1fQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

export function referenceFrames() {
  const epoch = Date.now();
  const base = {
    type: "hello",
    v: PROTOCOL_VERSION,
    project: "MyProject",
    scope: null,
    userAgent: USER_AGENTS[0],
    pageId: pageId(),
    path: "/production/oee",
    resume: null,
    token: null,
    epoch,
    seq: 0,
    bytes: 0,
  };
  return {
    heartbeat: encodeMessage({ type: "heartbeat", epoch, seq: 1234, bytes: 1_234_567 }),
    hello: encodeMessage(base),
    helloResumeToken: encodeMessage({ ...base, resume: RESUME, token: JWT, seq: 1235, bytes: 1_234_567 }),
  };
}

/** TCP bytes a ws server reads for each frame, sent one at a time. */
async function measureWsWire(frames) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await once(wss, "listening");
  const accepted = once(wss, "connection");
  const client = new WebSocket(`ws://127.0.0.1:${wss.address().port}`, { perMessageDeflate: false });
  await once(client, "open");
  const [, request] = await accepted;
  const serverSocket = request.socket;
  const result = {};
  try {
    for (const [name, bytes] of Object.entries(frames)) {
      await sleep(50);
      const before = serverSocket.bytesRead;
      client.send(bytes);
      for (let i = 0; i < 100 && serverSocket.bytesRead === before; i++) await sleep(5);
      result[name] = serverSocket.bytesRead - before;
    }
  } finally {
    client.terminate();
    wss.close();
  }
  return result;
}

/** The same fields as Socket.IO events (websocket transport): TCP bytes read per event. */
async function measureSocketIoWire() {
  const io = new SocketIoServer({ serveClient: false });
  const { createServer } = await import("node:http");
  const http = createServer();
  io.attach(http);
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  const connected = once(io, "connection");
  const client = ioClient(`http://127.0.0.1:${http.address().port}`, { transports: ["websocket"], reconnection: false, forceNew: true });
  const [serverSocket] = await connected;
  const raw = serverSocket.conn.transport?.socket?._socket ?? serverSocket.request.socket;
  const epoch = Date.now();
  const result = {};
  try {
    const events = {
      heartbeat: ["heartbeat", { epoch, seq: 1234, bytes: 1_234_567 }],
      hello: [
        "hello",
        { project: "MyProject", scope: null, userAgent: USER_AGENTS[0], pageId: pageId(), path: "/production/oee", resume: null, token: null, epoch, seq: 0, bytes: 0 },
      ],
    };
    for (const [name, args] of Object.entries(events)) {
      await sleep(50);
      const before = raw.bytesRead;
      client.emit(...args);
      for (let i = 0; i < 100 && raw.bytesRead === before; i++) await sleep(5);
      result[name] = raw.bytesRead - before;
    }
  } finally {
    client.close();
    io.close();
  }
  return result;
}

/**
 * Starts the real agent in Node against a stand-in collector that answers the
 * hello with a welcome asking for fast heartbeats, and records the frames the
 * agent sends (payload bytes per message type).
 */
export async function captureAgentFrames({ timeoutMs = 8_000 } = {}) {
  let agentModule;
  try {
    agentModule = await import(process.env.BENCH_AGENT_MODULE ?? "@sessionlens/agent");
  } catch (error) {
    return { error: `the agent is not built yet (${String(error?.message ?? error).split("\n")[0]})` };
  }
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await once(wss, "listening");
  const frames = {};
  wss.on("connection", (socket, request) => {
    const raw = request.socket;
    let lastRead = raw.bytesRead;
    socket.on("message", (data) => {
      const decoded = decodeAgentMessage(data);
      const type = decoded.ok ? decoded.value.type : `invalid:${decoded.error.code}`;
      const wire = raw.bytesRead - lastRead;
      lastRead = raw.bytesRead;
      (frames[type] ??= []).push({ payload: data.length, wire });
      if (type === "hello") {
        socket.send(
          encodeMessage({ type: "welcome", v: PROTOCOL_VERSION, sessionId: "bench-session-0001", resume: RESUME, heartbeatMs: 250, idleTimeoutMs: 10_000, authorized: false }),
        );
      }
    });
  });
  let agent;
  try {
    agent = agentModule.startAgent({ url: `ws://127.0.0.1:${wss.address().port}/ws`, project: "MyProject", WebSocket });
    const started = Date.now();
    while (Date.now() - started < timeoutMs && (frames.heartbeat?.length ?? 0) < 3) await sleep(50);
  } catch (error) {
    return { error: `startAgent failed: ${String(error?.message ?? error)}` };
  } finally {
    try {
      agent?.stop();
    } catch {
      // already stopped
    }
    for (const client of wss.clients) client.terminate();
    wss.close();
  }
  if (!frames.heartbeat) return { error: `the agent sent no heartbeat within ${timeoutMs} ms (frames seen: ${Object.keys(frames).join(", ") || "none"})`, frames };
  return { frames };
}

export async function runWire() {
  const reference = referenceFrames();
  const wire = await measureWsWire(reference);
  const socketIo = await measureSocketIoWire().catch((error) => ({ error: String(error?.message ?? error) }));
  const agent = await captureAgentFrames();
  const agentHeartbeat = agent.frames?.heartbeat?.at(-1);
  const agentHello = agent.frames?.hello?.[0];
  return {
    codec: {
      heartbeatPayload: reference.heartbeat.length,
      heartbeatWire: wire.heartbeat,
      helloPayload: reference.hello.length,
      helloWire: wire.hello,
      helloResumeTokenPayload: reference.helloResumeToken.length,
      helloResumeTokenWire: wire.helloResumeToken,
      note: "hello with a desktop Chrome user agent; the second hello also carries a resume credential and a JWT",
    },
    agent: agent.error
      ? { error: agent.error }
      : {
          heartbeatPayload: agentHeartbeat?.payload,
          heartbeatWire: agentHeartbeat?.wire,
          helloPayload: agentHello?.payload,
          helloWire: agentHello?.wire,
          note: "the real agent in Node (no navigator, so its user agent is whatever it reports there)",
        },
    socketIo,
  };
}
