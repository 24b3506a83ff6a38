// (c) The reference: session tracking as a team would build it with Socket.IO.
// One socket.io server, per-socket state in a Map with the same fields the
// collector keeps, JSON events at the same rate. Plain, reasonable code with
// the checks a team would write; no deliberate slowness and no special tuning.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { serveServer } from "../lib/server-process.mjs";

const host = process.env.BENCH_HOST ?? "127.0.0.1";
let frames = 0;
let badFrames = 0;
let connections = 0;
let accepted = 0;

/** socket.id -> the page's session state, the fields getSessionInfo returns. */
const sessions = new Map();

const httpServer = createServer();
const io = new Server(httpServer, { serveClient: false, maxHttpBufferSize: 8192 });

const isCount = (value) => Number.isSafeInteger(value) && value >= 0;

io.on("connection", (socket) => {
  connections++;
  accepted++;
  socket.on("hello", (hello) => {
    if (!hello || typeof hello.project !== "string" || typeof hello.pageId !== "string" || !isCount(hello.bytes)) {
      badFrames++;
      return;
    }
    const now = Date.now();
    sessions.set(socket.id, {
      id: socket.id,
      userAgent: String(hello.userAgent ?? "").slice(0, 512),
      username: "Unauthenticated",
      authorized: false,
      project: hello.project,
      createdAt: now,
      clientAddress: socket.handshake.address,
      lastComm: now,
      sessionScope: hello.scope ?? "browser",
      pageIds: [hello.pageId],
      path: String(hello.path ?? "/"),
      epoch: hello.epoch,
      seq: hello.seq,
      recentBytesSent: 0,
      totalBytesSent: hello.bytes,
    });
    frames++;
  });
  socket.on("heartbeat", (beat) => {
    const session = sessions.get(socket.id);
    if (!session || !beat || !isCount(beat.seq) || !isCount(beat.bytes)) {
      badFrames++;
      return;
    }
    session.lastComm = Date.now();
    if (beat.epoch === session.epoch && beat.seq > session.seq) {
      session.seq = beat.seq;
      session.recentBytesSent = Math.max(0, beat.bytes - session.totalBytesSent);
      session.totalBytesSent = Math.max(session.totalBytesSent, beat.bytes);
    }
    frames++;
  });
  socket.on("disconnect", () => {
    sessions.delete(socket.id);
    connections--;
  });
});

httpServer.listen({ host, port: Number(process.env.BENCH_PORT ?? 0), backlog: 4096 }, () => {
  serveServer(
    { port: httpServer.address().port },
    {
      stats: () => ({ frames, badFrames, connections, accepted, sessions: sessions.size }),
      exit: () => new Promise((resolve) => {
        io.close(() => resolve());
      }),
    },
  );
});
