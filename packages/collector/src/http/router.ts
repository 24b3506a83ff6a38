import type { IncomingMessage, ServerResponse } from "node:http";
import type { SessionFilter } from "@sessionlens/shared";
import type { Registry } from "prom-client";
import { LogBudget } from "../log-budget.js";
import { CommandError, compileQuery, type SessionQueries, type SessionRecord } from "../query/index.js";
import { createBearerCheck } from "./auth.js";
import type { EventHub } from "./events.js";
import { isJsonContentType } from "./guards.js";
import { sendOpenApi } from "./openapi.js";
import { BodyTooLarge, readBody, sendError, sendJson, waitForDrain } from "./respond.js";
import type { StatsHistorySnapshot } from "./stats.js";
import type { StatusPage } from "./status-page.js";

/** What the HTTP layer needs from the collector. */
export interface HttpDependencies {
  queries: SessionQueries;
  closeSession(id: string, message?: string): Promise<boolean>;
  closePage(id: string, pageId: string, message?: string): Promise<boolean>;
  sendMessage(id: string, type: string, payload: unknown, pageId?: string): Promise<number | null>;
  events: EventHub;
  metrics: Registry;
  /** The charts' history (`GET /api/v1/stats`). */
  stats: { snapshot(sinceMs?: number): StatsHistorySnapshot };
  statusPage: StatusPage;
  apiToken: string | undefined;
  maxMessageBytes: number;
  /** Where bad client input is logged (capped and rate-limited); shared with the server's own. */
  clientErrors?: LogBudget;
  now(): number;
  /** Null when ready, else why not. */
  notReadyReason(): Promise<string | null>;
  log: (level: "warn" | "error" | "info" | "debug", message: string, details?: Record<string, unknown>) => void;
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** What a route handler is given. */
export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  path: string;
  /** The route's `:name` segments, decoded. */
  params: Record<string, string>;
  query: URLSearchParams;
}

/** One entry of the route table. */
export interface Route {
  /** Methods answered (`"*"`: any); any other gets 405 with `Allow`. */
  methods: readonly string[];
  /** `/segment/:param/...`; a trailing slash on the request is ignored. Under `/api/` it needs the API token. */
  path: string;
  handle(context: RouteContext): Promise<void> | void;
}

/**
 * The collector's HTTP API, metrics, health and status page, as one `node:http` request handler
 * built from a route table (`routes()`); every `/api/` path, known or not, is behind the token.
 */
export function createHttpHandler(deps: HttpDependencies): HttpHandler {
  const authorized = createBearerCheck(deps.apiToken);
  const clientErrors = deps.clientErrors ?? new LogBudget(deps.log, deps.now);
  const table = routes(deps).map((route) => ({ route, segments: route.path.split("/").slice(1) }));

  async function dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://collector.invalid");
    } catch {
      clientErrors.write("a request with an unparsable target was refused", { target: req.url ?? "" });
      return sendError(res, 400, "bad_request", "the request target is not a valid URL");
    }
    const path = url.pathname;
    // Several collectors and Redis unreachable: this node answers with what it has, marked partial.
    if (path.startsWith("/api/") && deps.queries.partial()) res.setHeader("SessionLens-Partial", "true");
    const isApi = path === "/api" || path.startsWith("/api/");
    if (isApi && !authorized(req)) {
      return sendError(res, 401, "unauthorized", "this API needs `Authorization: Bearer <token>`", {
        "www-authenticate": 'Bearer realm="sessionlens"',
      });
    }
    const segments = path.split("/").slice(1).map(safeDecode);
    if (segments.length > 1 && segments.at(-1) === "") segments.pop();
    for (const { route, segments: pattern } of table) {
      const params = matchPath(pattern, segments);
      if (params === null) continue;
      if (!route.methods.includes(method) && !route.methods.includes("*")) {
        return sendError(res, 405, "method_not_allowed", `use ${route.methods.join(" or ")}`, { allow: route.methods.join(", ") });
      }
      return route.handle({ req, res, method, path, params, query: url.searchParams });
    }
    if (!isApi && (method === "GET" || method === "HEAD")) {
      if (await deps.statusPage.serve(path, res, method === "HEAD")) return;
    }
    sendError(res, 404, "not_found", `no route for ${method} ${path}`);
  }

  return (req, res) => {
    res.setHeader("x-content-type-options", "nosniff");
    dispatch(req, res).catch((error: unknown) => {
      // Capped and rate-limited like client errors: whoever can make a request fail must not flood the log.
      clientErrors.write("an HTTP request failed", { err: error, method: req.method ?? "", path: req.url?.split("?")[0] ?? "" }, "error");
      sendError(res, 500, "internal", "the collector could not answer this request");
    });
  };
}

/** The route table. */
function routes(deps: HttpDependencies): Route[] {
  const filterOf = (query: URLSearchParams): SessionFilter => ({
    usernameFilter: query.get("usernameFilter") ?? undefined,
    projectFilter: query.get("projectFilter") ?? undefined,
  });
  return [
    { methods: ["GET", "HEAD"], path: "/healthz", handle: ({ res }) => sendJson(res, 200, { status: "ok" }) },
    {
      methods: ["GET", "HEAD"],
      path: "/readyz",
      async handle({ res }) {
        const reason = await deps.notReadyReason();
        if (reason !== null) return sendError(res, 503, "not_ready", reason);
        sendJson(res, 200, { status: "ready" });
      },
    },
    {
      methods: ["GET"],
      path: "/metrics",
      async handle({ res }) {
        const text = await deps.metrics.metrics();
        res.writeHead(200, { "content-type": deps.metrics.contentType, "cache-control": "no-store" });
        res.end(text);
      },
    },
    {
      // An upgrade request never reaches here (the server's "upgrade" event takes it).
      methods: ["*"],
      path: "/ws",
      handle: ({ res }) =>
        sendError(res, 426, "upgrade_required", "/ws is the agents' WebSocket endpoint: connect with a WebSocket upgrade", {
          upgrade: "websocket",
          connection: "Upgrade",
        }),
    },
    {
      methods: ["GET"],
      path: "/api/v1/events",
      handle: ({ req, res, query }) => deps.events.subscribe(req, res, compileQuery(filterOf(query))),
    },
    {
      methods: ["GET", "HEAD"],
      path: "/api/v1/stats",
      handle({ res, query }) {
        const since = query.get("since");
        if (since !== null && !/^\d{1,16}$/.test(since)) return sendError(res, 400, "bad_request", "`since` must be a time in ms since the epoch");
        sendJson(res, 200, deps.stats.snapshot(since === null ? undefined : Number(since)));
      },
    },
    { methods: ["GET", "HEAD"], path: "/api/v1/openapi.json", handle: ({ res, method }) => sendOpenApi(res, method === "HEAD") },
    {
      methods: ["GET", "HEAD"],
      path: "/api/v1/sessions",
      handle: ({ res, method, query }) => streamSessions(res, deps.queries, deps.queries.records(filterOf(query)), deps.now(), method === "HEAD"),
    },
    {
      methods: ["GET", "HEAD", "DELETE"],
      path: "/api/v1/sessions/:id",
      async handle({ req, res, method, params, query }) {
        const { id } = params as { id: string };
        if (method === "DELETE") {
          const message = await readCloseMessage(req, res, query);
          if (message === null) return;
          if (!(await deps.closeSession(id, message))) return sendError(res, 404, "not_found", `no session ${id}`);
          res.writeHead(204).end();
          return;
        }
        const details = await deps.queries.getSession(id);
        if (details === undefined) return sendError(res, 404, "not_found", `no session ${id}`);
        sendJson(res, 200, details);
      },
    },
    {
      methods: ["DELETE"],
      path: "/api/v1/sessions/:id/pages/:pageId",
      async handle({ req, res, params, query }) {
        const { id, pageId } = params as { id: string; pageId: string };
        const message = await readCloseMessage(req, res, query);
        if (message === null) return;
        if (!(await deps.closePage(id, pageId, message))) return sendError(res, 404, "not_found", `no page ${pageId} in session ${id}`);
        res.writeHead(204).end();
      },
    },
    {
      methods: ["POST"],
      path: "/api/v1/sessions/:id/messages",
      handle: ({ req, res, params }) => postMessage(req, res, params["id"]!),
    },
  ];

  async function postMessage(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const body = await readJson(req, res);
    if (body === undefined) return;
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return sendError(res, 400, "bad_request", 'the body must be a JSON object {"type", "payload", "pageId"?}');
    }
    const { type, payload, pageId } = body as Record<string, unknown>;
    if (typeof type !== "string" || type === "") return sendError(res, 400, "bad_request", "`type` must be a non-empty string");
    if (pageId !== undefined && pageId !== null && typeof pageId !== "string") {
      return sendError(res, 400, "bad_request", "`pageId` must be a string when given");
    }
    try {
      const delivered = await deps.sendMessage(id, type, payload, typeof pageId === "string" ? pageId : undefined);
      if (delivered === null) {
        return sendError(res, 404, "not_found", typeof pageId === "string" ? `no page ${pageId} in session ${id}` : `no session ${id}`);
      }
      sendJson(res, 202, { delivered });
    } catch (error) {
      if (error instanceof CommandError) {
        const status = error.code === "too_large" ? 413 : 400;
        return sendError(res, status, error.code === "bad_field" ? "bad_request" : error.code, error.message);
      }
      throw error;
    }
  }

  /** The optional close message: `?message=` or a JSON body `{"message": "..."}`. Null after answering an error. */
  async function readCloseMessage(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): Promise<string | null> {
    const fromQuery = params.get("message");
    const hasBody = Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;
    if (!hasBody) return fromQuery ?? "";
    const body = await readJson(req, res);
    if (body === undefined) return null;
    if (body !== null && typeof body === "object" && typeof (body as { message?: unknown }).message === "string") {
      return (body as { message: string }).message;
    }
    return fromQuery ?? "";
  }

  /** The parsed JSON body, or undefined after answering 415 / 413 / 400. */
  async function readJson(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    if (!isJsonContentType(req)) {
      // A cross-site form or `text/plain` fetch cannot send application/json without a preflight (CSRF).
      sendError(res, 415, "unsupported_media_type", "bodies must be sent with `Content-Type: application/json`", { connection: "close" });
      req.resume();
      return undefined;
    }
    let raw: Buffer;
    try {
      raw = await readBody(req, deps.maxMessageBytes);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        sendError(res, 413, "too_large", `the body is larger than ${deps.maxMessageBytes} bytes`, { connection: "close" });
        return undefined;
      }
      throw error;
    }
    try {
      return JSON.parse(raw.toString("utf8")) as unknown;
    } catch {
      sendError(res, 400, "bad_request", "the body is not valid JSON");
      return undefined;
    }
  }
}

/** The params of a path matching `pattern` (segments; `:name` takes one non-empty segment), or null. */
function matchPath(pattern: readonly string[], segments: readonly (string | null)[]): Record<string, string> | null {
  if (pattern.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i]!;
    const actual = segments[i];
    if (actual === null || actual === undefined) return null;
    if (expected.startsWith(":")) {
      if (actual === "") return null;
      params[expected.slice(1)] = actual;
    } else if (expected !== actual) {
      return null;
    }
  }
  return params;
}

/** A bare JSON array, written in chunks with backpressure. */
async function streamSessions(res: ServerResponse, queries: SessionQueries, records: SessionRecord[], now: number, head: boolean): Promise<void> {
  res.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  if (head) {
    res.end();
    return;
  }
  for (const chunk of queries.sessionListChunks(records, now)) {
    if (!res.write(chunk, () => queries.releaseChunk(chunk))) {
      await waitForDrain(res);
      if (res.destroyed) return;
    }
  }
  res.end();
}

function safeDecode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}
