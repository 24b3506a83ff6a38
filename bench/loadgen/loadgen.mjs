// Load generator process: opens N page connections to one server (bounded
// concurrency, several loopback source addresses) and then sends heartbeats at
// a paced rate. Speaks either the SessionLens protocol (ws + the shared codec:
// hello, then heartbeats — what the agent sends) or Socket.IO events carrying
// the same fields as JSON.
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { io as ioClient } from "socket.io-client";
import { encodeMessage, decodeCollectorMessage } from "@sessionlens/shared/codec";
import { PROTOCOL_VERSION } from "@sessionlens/shared";
import { serveRequests } from "../lib/ipc.mjs";
import { makePopulation } from "../lib/traffic.mjs";

const pages = [];
const counters = {
  connected: 0,
  connectFailures: 0,
  welcomes: 0,
  serverErrors: 0,
  serverErrorCodes: {},
  closedUnexpectedly: 0,
  heartbeatsSent: 0,
  helloSent: 0,
  sendErrors: 0,
  pacingLagMaxMs: 0,
};
let pacer = null;
let stopping = false;

function onServerFrame(page, data) {
  const decoded = decodeCollectorMessage(data);
  if (!decoded.ok) return;
  if (decoded.value.type === "welcome") {
    if (!page.welcomed) counters.welcomes++;
    page.welcomed = true;
    page.sessionId = decoded.value.sessionId;
    page.onWelcome?.();
  } else if (decoded.value.type === "error") {
    counters.serverErrors++;
    const code = decoded.value.code;
    counters.serverErrorCodes[code] = (counters.serverErrorCodes[code] ?? 0) + 1;
  }
}

/** Opens one protocol (ws + msgpack) page; resolves when it may send heartbeats. */
function openProtocolPage(page, { url, localAddress, awaitWelcome, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { localAddress, perMessageDeflate: false, handshakeTimeout: timeoutMs });
    page.socket = socket;
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error("timeout"));
    }, timeoutMs);
    let settled = false;
    const done = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    };
    socket.on("open", () => {
      page.open = true;
      const hello = { type: "hello", v: PROTOCOL_VERSION, ...helloFields(page) };
      socket.send(encodeMessage(hello));
      counters.helloSent++;
      if (!awaitWelcome) done();
    });
    page.onWelcome = () => done();
    socket.on("message", (data) => onServerFrame(page, data));
    socket.on("error", (error) => done(error));
    socket.on("close", () => {
      if (page.open && !stopping) counters.closedUnexpectedly++;
      page.open = false;
      done(new Error("closed before ready"));
    });
  });
}

/** What every page says in its hello, over either transport (the same fields, the same sizes). */
function helloFields(page) {
  return {
    project: page.project,
    scope: null,
    userAgent: page.userAgent,
    pageId: page.pageId,
    path: page.path,
    resume: null,
    token: null,
    epoch: page.epoch,
    seq: page.seq++,
    bytes: page.bytes,
  };
}

/** Opens one Socket.IO page (websocket transport, no reconnection). */
function openSocketIoPage(page, { url, localAddress, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const socket = ioClient(url, {
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      timeout: timeoutMs,
      localAddress,
      perMessageDeflate: false,
    });
    page.socket = socket;
    let settled = false;
    socket.on("connect", () => {
      page.open = true;
      socket.emit("hello", helloFields(page));
      counters.helloSent++;
      settled = true;
      resolve();
    });
    socket.on("connect_error", (error) => {
      if (!settled) {
        settled = true;
        socket.close();
        reject(error);
      }
    });
    socket.on("disconnect", () => {
      if (page.open && !stopping) counters.closedUnexpectedly++;
      page.open = false;
    });
  });
}

async function connect({ kind, url, count, sources, concurrency = 200, awaitWelcome = false, timeoutMs = 20_000, seed = 7, deadlineMs = 240_000 }) {
  const nextHello = makePopulation(seed + process.pid);
  const started = Date.now();
  let index = 0;
  const open = kind === "socketio" ? openSocketIoPage : openProtocolPage;
  async function worker() {
    while (index < count && Date.now() - started < deadlineMs) {
      const i = index++;
      const page = { ...nextHello(), epoch: Date.now(), seq: 0, bytes: Math.floor(Math.random() * 4096), open: false, welcomed: false };
      const localAddress = sources[i % sources.length];
      let attempt = 0;
      for (;;) {
        try {
          await open(page, { url, localAddress, awaitWelcome, timeoutMs });
          pages.push(page);
          counters.connected++;
          break;
        } catch (error) {
          if (++attempt >= 3 || Date.now() - started >= deadlineMs) {
            counters.connectFailures++;
            counters.lastConnectError = String(error?.message ?? error);
            break;
          }
          await new Promise((r) => setTimeout(r, 100 * attempt));
        }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { ...counters, elapsedMs: Date.now() - started };
}

/** Sends `ratePerSecond` heartbeats per second in total, round-robin over the open pages. */
function pace({ ratePerSecond, kind, maxDurationMs = 10 * 60_000, tickMs = 10 }) {
  stopPacing();
  const started = performance.now();
  let due = 0;
  let cursor = 0;
  let lastTick = started;
  const sendOne = (page) => {
    page.seq++;
    page.bytes += 40 + Math.floor(Math.random() * 400);
    try {
      if (kind === "socketio") page.socket.emit("heartbeat", { epoch: page.epoch, seq: page.seq, bytes: page.bytes });
      else page.socket.send(encodeMessage({ type: "heartbeat", epoch: page.epoch, seq: page.seq, bytes: page.bytes }));
      counters.heartbeatsSent++;
    } catch {
      counters.sendErrors++;
    }
  };
  pacer = setInterval(() => {
    const now = performance.now();
    counters.pacingLagMaxMs = Math.max(counters.pacingLagMaxMs, Math.round(now - lastTick - tickMs));
    lastTick = now;
    if (now - started > maxDurationMs) return stopPacing();
    const target = Math.floor(((now - started) / 1000) * ratePerSecond);
    // Never burst more than 100 ms worth after a stall: pacing, not catching up.
    let toSend = Math.min(target - due, Math.ceil(ratePerSecond / 10));
    due = target;
    let scanned = 0;
    while (toSend > 0 && scanned < pages.length) {
      const page = pages[cursor];
      cursor = (cursor + 1) % pages.length;
      scanned++;
      if (!page.open) continue;
      sendOne(page);
      toSend--;
      scanned = 0;
    }
  }, tickMs);
  return { started: true };
}

function stopPacing() {
  if (pacer) clearInterval(pacer);
  pacer = null;
  return { stopped: true };
}

serveRequests({
  connect,
  pace,
  stopPacing,
  counters: () => ({ ...counters, open: pages.filter((p) => p.open).length, now: Date.now() }),
  exit: async () => {
    stopping = true;
    stopPacing();
    for (const page of pages) {
      try {
        if (page.socket instanceof WebSocket) page.socket.terminate();
        else page.socket?.close();
      } catch {
        // already gone
      }
    }
  },
});
