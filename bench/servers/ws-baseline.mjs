// (a) The floor: a bare `ws` server that decodes every msgpack frame with the
// shared codec (decode + validate, as the collector must) and drops it.
import { WebSocketServer } from "ws";
import { decodeAgentMessage } from "@sessionlens/shared/codec";
import { LIMITS } from "@sessionlens/shared";
import { serveServer } from "../lib/server-process.mjs";

const host = process.env.BENCH_HOST ?? "127.0.0.1";
let frames = 0;
let badFrames = 0;
let connections = 0;
let accepted = 0;

const wss = new WebSocketServer({ host, port: Number(process.env.BENCH_PORT ?? 0), maxPayload: LIMITS.maxAgentFrameBytes, backlog: 4096 });
wss.on("connection", (socket) => {
  connections++;
  accepted++;
  socket.on("message", (data, isBinary) => {
    const decoded = isBinary ? decodeAgentMessage(data) : { ok: false };
    if (decoded.ok) frames++;
    else badFrames++;
  });
  socket.on("close", () => connections--);
});
wss.on("listening", () => {
  serveServer(
    { port: wss.address().port },
    {
      stats: () => ({ frames, badFrames, connections, accepted }),
      exit: () => new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
    },
  );
});
