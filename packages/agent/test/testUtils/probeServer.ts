import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

/**
 * The app's backend for the transparency suite: serves the probe page (under `script-src 'self'`
 * and Trusted Types), and records the body bytes of every request and WebSocket message it
 * receives, by the probe case named in the `case` query parameter.
 *
 * Routes: `/echo` answers 200 with "<bytes> <content-type without boundary>"; `/redirect?code=N`
 * reads the body and redirects to `/echo` with status N; `/slow` answers its headers and a first
 * chunk, then holds the rest; `/live` (WebSocket) answers "ack" to a "flush" message.
 */
export interface ProbeServer {
  origin: string;
  /** The scripts it serves (to start another server with the same). */
  scripts: ProbeScripts;
  /** Body bytes per case, one entry per request (or message) received. */
  received: Map<string, number[]>;
  pageUrl(query: Record<string, string>): string;
  close(): Promise<void>;
}

export interface ProbeScripts {
  agent: string;
  probe: string;
}

const START_JS = `
(function () {
  var data = document.currentScript.dataset;
  if (!data.url) return;
  var options = { url: data.url, project: data.project, reportIntervalMs: 10 };
  if (data.backoff) options.backoffBaseMs = options.backoffMaxMs = Number(data.backoff);
  window.agent = SessionLens.startAgent(options);
})();
`;

export async function startProbeServer(scripts: ProbeScripts, options: { noStore?: boolean } = {}): Promise<ProbeServer> {
  const received = new Map<string, number[]>();
  const record = (name: string | null, bytes: number): void => {
    if (!name) return;
    const list = received.get(name) ?? [];
    list.push(bytes);
    received.set(name, list);
  };
  const csp = [
    "default-src 'self'",
    "script-src 'self'",
    "connect-src 'self' ws://127.0.0.1:* http://127.0.0.1:*",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join("; ");
  const slow = new Set<import("node:http").ServerResponse>();

  const server: Server = createServer((request: IncomingMessage, response) => {
    const url = new URL(request.url ?? "/", "http://x");
    const name = url.searchParams.get("case");
    let bytes = 0;
    request.on("data", (chunk: Buffer) => (bytes += chunk.length));
    request.on("end", () => {
      const hasBody = request.method !== "GET" && request.method !== "HEAD";
      switch (url.pathname) {
        case "/probe.html": {
          const agent = url.searchParams.get("agent") === "1";
          const attributes = agent
            ? ` data-url="${url.searchParams.get("url")}" data-project="${url.searchParams.get("project")}"` +
              (url.searchParams.has("backoff") ? ` data-backoff="${Number(url.searchParams.get("backoff"))}"` : "")
            : "";
          response.writeHead(200, {
            "content-type": "text/html",
            "content-security-policy": csp,
            ...(options.noStore ? { "cache-control": "no-store" } : {}),
          });
          response.end(`<!doctype html><html><head><title>probe</title></head><body><a href="/other">other</a>
${agent ? `<script src="/sessionlens-agent.iife.js"></script>\n<script src="/start.js"${attributes}></script>` : ""}
<script src="/probe.js"></script>
</body></html>`);
          return;
        }
        case "/other":
          response.writeHead(200, { "content-type": "text/html" });
          response.end("<!doctype html><title>other</title><p>another page");
          return;
        case "/sessionlens-agent.iife.js":
        case "/start.js":
        case "/probe.js":
          response.writeHead(200, { "content-type": "text/javascript" });
          response.end(url.pathname === "/start.js" ? START_JS : url.pathname === "/probe.js" ? scripts.probe : scripts.agent);
          return;
        case "/redirect":
          record(name, bytes);
          response.writeHead(Number(url.searchParams.get("code")), { location: `/echo?case=${encodeURIComponent(name ?? "")}` });
          response.end();
          return;
        case "/slow":
          record(name, bytes);
          response.writeHead(200, { "content-type": "text/plain" });
          response.write("first chunk\n");
          slow.add(response);
          response.on("close", () => slow.delete(response));
          setTimeout(() => response.end("late end\n"), 5000).unref();
          return;
        default: {
          if (hasBody || url.pathname === "/echo") record(name, bytes);
          const type = (request.headers["content-type"] ?? "").replace(/boundary=.*$/, "boundary=…");
          response.writeHead(200, { "content-type": "text/plain" });
          response.end(`${bytes} ${type}`);
        }
      }
    });
  });
  const sockets = new WebSocketServer({ server, path: "/live" });
  sockets.on("connection", (socket, request) => {
    const name = new URL(request.url ?? "/", "http://x").searchParams.get("case");
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      record(name, data.length);
      if (!isBinary && data.toString() === "flush") socket.send("ack");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    scripts,
    received,
    pageUrl: (query) => `${origin}/probe.html?${new URLSearchParams(query).toString()}`,
    close: () =>
      new Promise((resolve) => {
        for (const response of slow) response.destroy();
        for (const client of sockets.clients) client.terminate();
        sockets.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
