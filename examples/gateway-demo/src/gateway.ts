/**
 * The demo gateway: the app's own backend. It serves the Vite-built web app
 * (which runs the SessionLens agent), signs identity JWTs at login, accepts
 * app requests (so bytes sent show up), and shows what the collector's
 * getSessionInfo() returns for its project, through @sessionlens/collector/client.
 */
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { SignJWT } from "jose";
import { createClient } from "@sessionlens/collector/client";

export interface GatewayOptions {
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string;
  /** Port; 0 picks a free one. Default `3000`. */
  port?: number;
  /** The collector's HTTP base URL, for getSessionInfo. Default `http://127.0.0.1:8787`. */
  collectorUrl?: string;
  /** The agents' WebSocket URL. Default: `collectorUrl` with ws(s):// and `/ws`. */
  collectorWsUrl?: string;
  /** The collector's API token, when it has one. Default none. */
  collectorApiToken?: string;
  /** HS256 secret shared with the collector's `--identity-secret`. Required. */
  identitySecret: string;
  /** The project this app is. Default `MyProject`. */
  project?: string;
  /** Lifetime of a login token in seconds. Default 3600. */
  tokenTtlSeconds?: number;
  /** Built web app folder. Default `dist/web` beside this package. */
  webRoot?: string;
  /** The agent's IIFE build, served at /sessionlens-agent.iife.js. Default: from @sessionlens/agent. */
  agentIifePath?: string;
}

export interface Gateway {
  listen(): Promise<{ url: string; port: number }>;
  close(): Promise<void>;
  readonly server: Server;
}

const PACKAGE_ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
const MAX_BODY_BYTES = 1024 * 1024;
const USERNAME = /^[A-Za-z0-9_.@-]{1,64}$/;

/** Pages are served with a strict policy: the agent must work without eval or inline scripts. */
export const DEMO_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss: http: https:; frame-ancestors 'none'";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".map": "application/json",
};

export function createGateway(options: GatewayOptions): Gateway {
  if (!options.identitySecret) throw new Error("createGateway: identitySecret is required");
  const host = options.host ?? "127.0.0.1";
  const project = options.project ?? "MyProject";
  const collectorUrl = (options.collectorUrl ?? "http://127.0.0.1:8787").replace(/\/$/, "");
  const collectorWsUrl = options.collectorWsUrl ?? `${collectorUrl.replace(/^http/, "ws")}/ws`;
  const tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
  const webRoot = resolve(options.webRoot ?? join(PACKAGE_ROOT, "dist", "web"));
  const agentIifePath =
    options.agentIifePath ?? join(PACKAGE_ROOT, "node_modules", "@sessionlens", "agent", "dist", "sessionlens-agent.iife.js");
  const secret = new TextEncoder().encode(options.identitySecret);
  const collector = createClient({ url: collectorUrl, ...(options.collectorApiToken ? { token: options.collectorApiToken } : {}) });

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> = {
    "GET /api/config": async (_req, res) => {
      json(res, 200, { project, collectorWsUrl });
    },
    "POST /api/login": async (req, res) => {
      const body = await readJson(req);
      const username = typeof body?.["username"] === "string" ? body["username"].trim() : "";
      if (!USERNAME.test(username)) {
        return json(res, 400, error("bad_username", "username must be 1-64 characters of A-Z a-z 0-9 _ . @ -"));
      }
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setSubject(username)
        .setIssuedAt()
        .setExpirationTime(`${tokenTtlSeconds}s`)
        .sign(secret);
      json(res, 200, { username, token, expiresInSeconds: tokenTtlSeconds });
    },
    "POST /api/orders": async (req, res) => {
      // Stands in for the app's real work: the agent counts the body's bytes.
      const bytes = await readBody(req);
      json(res, 201, { received: bytes.length });
    },
    "GET /api/sessions": async (_req, res) => {
      try {
        json(res, 200, await collector.getSessionInfo(undefined, project));
      } catch (cause) {
        json(res, 502, error("collector_unreachable", `the collector at ${collectorUrl} did not answer: ${String(cause)}`));
      }
    },
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://gateway").pathname;
    const route = routes[`${req.method} ${path}`];
    const handled = route ? route(req, res) : serveStatic(path, res);
    handled.catch((cause: unknown) => {
      if (cause instanceof HttpError) return json(res, cause.status, error(cause.code, cause.message));
      console.error("gateway: request failed", cause);
      if (!res.headersSent) json(res, 500, error("internal", "internal error"));
      else res.destroy();
    });
  });

  async function serveStatic(path: string, res: ServerResponse): Promise<void> {
    if (path === "/sessionlens-agent.iife.js") return sendFile(res, agentIifePath, ".js");
    const relative = path.endsWith("/") ? `${path}index.html` : path;
    const file = normalize(join(webRoot, relative));
    if (!file.startsWith(webRoot + sep) || !existsSync(file) || !statSync(file).isFile()) {
      if (!existsSync(join(webRoot, "index.html"))) {
        return json(res, 503, error("not_built", `the web app is not built (${webRoot}); run: pnpm build`));
      }
      return json(res, 404, error("not_found", `no such page: ${path}`));
    }
    return sendFile(res, file, extname(file));
  }

  return {
    server,
    async listen() {
      await new Promise<void>((resolveListen, reject) => {
        server.once("error", reject);
        server.listen(options.port ?? 3000, host, () => resolveListen());
      });
      const { port } = server.address() as AddressInfo;
      return { url: `http://${host}:${port}`, port };
    },
    async close() {
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      });
    },
  };
}

function sendFile(res: ServerResponse, file: string, extension: string): Promise<void> {
  return new Promise((resolveSend, reject) => {
    if (!existsSync(file)) {
      json(res, 404, error("not_found", `missing file ${file}; run: pnpm build`));
      return resolveSend();
    }
    res.writeHead(200, {
      "content-type": CONTENT_TYPES[extension] ?? "application/octet-stream",
      "content-security-policy": DEMO_CSP,
      "x-content-type-options": "nosniff",
      "cache-control": "no-cache",
    });
    createReadStream(file).on("error", reject).on("end", resolveSend).pipe(res);
  });
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, "too_large", `bodies are limited to ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | null> {
  const text = (await readBody(req)).toString("utf8");
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : null;
  } catch {
    throw new HttpError(400, "bad_json", "the body is not JSON");
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(text);
}

function error(code: string, message: string) {
  return { error: { code, message } };
}
