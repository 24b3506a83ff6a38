/**
 * A stand-in for the collector's HTTP side, for browser tests that need
 * thousands of sessions or exact control over events: serves the built page
 * under the collector's CSP, a session list, details, DELETE and the event
 * stream. The real collector is tested in status-page.browser.test.ts.
 */
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import type { SessionInfo } from "../src/session.js";

export const STATUS_PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

export interface FakeCollector {
  url: string;
  sessions: Map<string, SessionInfo>;
  /** Sends an upsert (and stores the session). */
  upsert(info: SessionInfo): void;
  remove(id: string, reason: string): void;
  /** Ends every open event stream (the page should reconnect). */
  dropStreams(): void;
  /** Requests seen, with their Authorization header. */
  requests: { method: string; url: string; authorization: string | undefined }[];
  close(): Promise<void>;
}

export async function startFakeCollector(options: { distDir: string; apiToken?: string; sessions?: SessionInfo[] }): Promise<FakeCollector> {
  const sessions = new Map((options.sessions ?? []).map((s) => [s.id, s]));
  const streams = new Set<ServerResponse>();
  const requests: FakeCollector["requests"] = [];

  const send = (event: string, data: unknown): void => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const stream of streams) stream.write(frame);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://fake");
    requests.push({ method: request.method ?? "GET", url: request.url ?? "", authorization: request.headers.authorization });
    if (url.pathname.startsWith("/api/")) {
      if (options.apiToken && request.headers.authorization !== `Bearer ${options.apiToken}`) {
        response.writeHead(401, { "Content-Type": "application/json" });
        response.end(JSON.stringify({ error: { code: "unauthorized", message: "an API token is required" } }));
        return;
      }
      if (url.pathname === "/api/v1/events") {
        response.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store" });
        response.write(`event: snapshot\ndata: ${JSON.stringify([...sessions.values()])}\n\n`);
        streams.add(response);
        request.on("close", () => streams.delete(response));
        return;
      }
      const match = /^\/api\/v1\/sessions\/([^/]+)$/.exec(url.pathname);
      const session = match ? sessions.get(decodeURIComponent(match[1]!)) : undefined;
      if (match && request.method === "DELETE") {
        if (!session) response.writeHead(404).end();
        else {
          sessions.delete(session.id);
          send("remove", { id: session.id, reason: "closed" });
          response.writeHead(204).end();
        }
        return;
      }
      if (match && session) {
        const now = Date.now();
        response.writeHead(200, { "Content-Type": "application/json" });
        response.end(
          JSON.stringify({
            ...session,
            createdAt: new Date(now - session.uptime).toISOString(),
            lastCommAt: new Date(now - session.lastComm).toISOString(),
            tokenExpiresAt: null,
            closedPagesBytes: 0,
            // What the real collector's ua-parser-js says for the default test user agent; nothing for any other.
            device: session.userAgent.includes("Chrome/126.")
              ? { browser: { name: "Chrome", version: "126.0.0.0" }, os: { name: "Linux", version: null }, device: { type: null, vendor: null, model: null }, engine: { name: "Blink", version: "126.0.0.0" }, summary: "Chrome 126 on Linux" }
              : { browser: { name: null, version: null }, os: { name: null, version: null }, device: { type: null, vendor: null, model: null }, engine: { name: null, version: null }, summary: "Unknown browser" },
            pages: session.pageIds.map((id, i) => ({
              id,
              path: i === 0 ? "/orders/<img src=x onerror=alert(1)>" : `/dashboard/${i}`,
              bytes: 1024 * (i + 1),
              connected: true,
              openedAt: new Date(now - session.uptime).toISOString(),
              connectedAt: new Date(now - 5000).toISOString(),
              disconnectedAt: null,
            })),
          }),
        );
        return;
      }
      response.writeHead(404, { "Content-Type": "application/json" });
      response.end(JSON.stringify({ error: { code: "not_found", message: "no such session" } }));
      return;
    }
    const file = url.pathname === "/" ? "index.html" : normalize(url.pathname).replace(/^[/\\]+/, "");
    if (file.includes("..")) {
      response.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(join(options.distDir, file));
      response.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream", "Content-Security-Policy": STATUS_PAGE_CSP });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  };

  const server: Server = createServer((request, response) => void handle(request, response));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    sessions,
    requests,
    upsert(info) {
      sessions.set(info.id, info);
      send("upsert", info);
    },
    remove(id, reason) {
      sessions.delete(id);
      send("remove", { id, reason });
    },
    dropStreams() {
      for (const stream of streams) stream.destroy();
      streams.clear();
    },
    async close() {
      for (const stream of streams) stream.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
