import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

/**
 * A stand-in for the app's own backend (the "gateway") for the browser suites: it serves a page
 * that loads the IIFE under a strict Content-Security-Policy, and records the body bytes of every
 * request and WebSocket message it receives, so tests can hold the agent's byte counts against
 * what really arrived.
 */
export interface Gateway {
  origin: string;
  port: number;
  /** Body bytes received per request path (`ws:/live` for WebSocket messages). */
  received: { path: string; bytes: number }[];
  receivedBytes(): number;
  pageUrl(query?: Record<string, string>, host?: string): string;
  close(): Promise<void>;
}

/** The page's script: starts the agent from its data attributes and records what happens. */
const APP_JS = `
(function () {
  var script = document.currentScript;
  var state = (window.__sessionlens = { events: [], violations: [], evalBlocked: null });
  document.addEventListener("securitypolicyviolation", function (event) {
    state.violations.push(event.violatedDirective + " " + event.blockedURI);
  });
  try { (0, eval)("1"); state.evalBlocked = false; } catch (error) { state.evalBlocked = true; }
  var options = { url: script.dataset.url, project: script.dataset.project };
  if (script.dataset.gateways) options.gatewayOrigins = script.dataset.gateways.split(",");
  var agent = (window.agent = SessionLens.startAgent(options));
  agent.on("connect", function (id) { state.events.push(["connect", id]); });
  agent.on("close", function (reason, message) { state.events.push(["close", reason, message]); });
  agent.on("message", function (type, payload) { state.events.push(["message", type, payload]); });
})();
`;

function page(query: URLSearchParams): string {
  const attributes = ["url", "project", "gateways"]
    .filter((key) => query.has(key))
    .map((key) => ` data-${key}="${query.get(key)!.replace(/"/g, "&quot;")}"`)
    .join("");
  // frame=sandboxed: the agent runs only in an iframe with an opaque origin, where storage throws.
  const content =
    query.get("frame") === "sandboxed"
      ? `<iframe sandbox="allow-scripts" src="/page.html?${query.toString().replace(/frame=sandboxed&?/, "")}"></iframe>`
      : `<script src="/sessionlens-agent.iife.js"></script>\n<script src="/app.js"${attributes}></script>`;
  return `<!doctype html><html><head><title>SessionLens test page</title></head><body>
<h1>test page</h1>
${content}
</body></html>`;
}

export async function startGateway(iifePath: string): Promise<Gateway> {
  const iife = readFileSync(iifePath, "utf8");
  const received: Gateway["received"] = [];
  // Strict: scripts from this origin only (no inline, no eval); sockets to the collector.
  const csp = `default-src 'self'; script-src 'self'; connect-src 'self' ws://127.0.0.1:* http://127.0.0.1:*; frame-src 'self'`;
  const server: Server = createServer((request: IncomingMessage, response) => {
    const url = new URL(request.url ?? "/", "http://x");
    let bytes = 0;
    request.on("data", (chunk: Buffer) => (bytes += chunk.length));
    request.on("end", () => {
      if (request.method !== "GET" && request.method !== "HEAD") received.push({ path: url.pathname, bytes });
      if (url.pathname === "/sessionlens-agent.iife.js" || url.pathname === "/app.js") {
        response.writeHead(200, { "content-type": "text/javascript" });
        response.end(url.pathname === "/app.js" ? APP_JS : iife);
      } else if (url.pathname === "/page.html") {
        response.writeHead(200, { "content-type": "text/html", "content-security-policy": csp });
        response.end(page(url.searchParams));
      } else {
        response.writeHead(204, { "access-control-allow-origin": "*" });
        response.end();
      }
    });
  });
  const sockets = new WebSocketServer({ server, path: "/live" });
  sockets.on("connection", (socket) => {
    socket.on("message", (data: Buffer) => received.push({ path: "ws:/live", bytes: data.length }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    port,
    received,
    receivedBytes: () => received.reduce((sum, entry) => sum + entry.bytes, 0),
    pageUrl: (query = {}, host = "127.0.0.1") => `http://${host}:${port}/page.html?${new URLSearchParams(query).toString()}`,
    close: () =>
      new Promise((resolve) => {
        for (const client of sockets.clients) client.terminate();
        sockets.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
