import type { IncomingMessage, ServerResponse } from "node:http";
import type { SessionFilter } from "@sessionlens/shared";
import type { Registry } from "prom-client";
import { CommandError, compileQuery, toSessionInfo, type SessionQueries, type SessionRecord } from "../query/index.js";
import { createBearerCheck } from "./auth.js";
import type { EventHub } from "./events.js";
import { BodyTooLarge, CHUNK_CHARS, readBody, sendError, sendJson, waitForDrain } from "./respond.js";
import type { StatusPage } from "./status-page.js";

/** What the HTTP layer needs from the collector. */
export interface HttpDependencies {
  queries: SessionQueries;
  closeSession(id: string, message?: string): Promise<boolean>;
  closePage(id: string, pageId: string, message?: string): Promise<boolean>;
  sendMessage(id: string, type: string, payload: unknown, pageId?: string): Promise<number | null>;
  events: EventHub;
  metrics: Registry;
  statusPage: StatusPage;
  apiToken: string | undefined;
  maxMessageBytes: number;
  now(): number;
  /** Null when ready, else why not. */
  notReadyReason(): Promise<string | null>;
  log: (level: "warn" | "error" | "info" | "debug", message: string, details?: Record<string, unknown>) => void;
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** The collector's HTTP API, metrics, health and status page, as one `node:http` request handler. */
export function createHttpHandler(deps: HttpDependencies): HttpHandler {
  const authorized = createBearerCheck(deps.apiToken);

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://collector.invalid");
    const path = url.pathname;
    // Several collectors and Redis unreachable: this node answers with what it has, marked partial.
    if (path.startsWith("/api/") && deps.queries.partial()) res.setHeader("SessionLens-Partial", "true");

    if (path === "/healthz") {
      if (!allow(res, method, ["GET", "HEAD"])) return;
      return sendJson(res, 200, { status: "ok" });
    }
    if (path === "/readyz") {
      if (!allow(res, method, ["GET", "HEAD"])) return;
      const reason = await deps.notReadyReason();
      if (reason !== null) return sendError(res, 503, "not_ready", reason);
      return sendJson(res, 200, { status: "ready" });
    }
    if (path === "/metrics") {
      if (!allow(res, method, ["GET"])) return;
      const text = await deps.metrics.metrics();
      res.writeHead(200, { "content-type": deps.metrics.contentType, "cache-control": "no-store" });
      res.end(text);
      return;
    }
    if (path === "/ws") {
      // An upgrade request never reaches here (the server's "upgrade" event takes it).
      return sendError(res, 426, "upgrade_required", "/ws is the agents' WebSocket endpoint: connect with a WebSocket upgrade", {
        upgrade: "websocket",
        connection: "Upgrade",
      });
    }
    if (path === "/api" || path.startsWith("/api/")) {
      if (!authorized(req)) {
        return sendError(res, 401, "unauthorized", "this API needs `Authorization: Bearer <token>`", {
          "www-authenticate": 'Bearer realm="sessionlens"',
        });
      }
      return api(req, res, method, path, url.searchParams);
    }
    if (method === "GET" || method === "HEAD") {
      if (await deps.statusPage.serve(path, res, method === "HEAD")) return;
    }
    sendError(res, 404, "not_found", `no route for ${method} ${path}`);
  }

  async function api(req: IncomingMessage, res: ServerResponse, method: string, path: string, params: URLSearchParams): Promise<void> {
    const segments = path.split("/").slice(1).map(safeDecode);
    // segments: ["api", "v1", ...]
    if (segments[1] !== "v1" || segments.some((segment) => segment === null)) {
      return sendError(res, 404, "not_found", `no route for ${method} ${path}`);
    }
    const [, , resource, id, sub, pageId, ...rest] = segments as string[];
    const filter: SessionFilter = {
      usernameFilter: params.get("usernameFilter") ?? undefined,
      projectFilter: params.get("projectFilter") ?? undefined,
    };

    if (resource === "events" && id === undefined) {
      if (!allow(res, method, ["GET"])) return;
      return deps.events.subscribe(req, res, compileQuery(filter));
    }
    if (resource !== "sessions" || rest.length > 0) return sendError(res, 404, "not_found", `no route for ${method} ${path}`);

    if (id === undefined || id === "") {
      if (!allow(res, method, ["GET", "HEAD"])) return;
      return streamSessions(res, deps.queries.records(filter), deps.now(), method === "HEAD");
    }
    if (sub === undefined) {
      if (!allow(res, method, ["GET", "HEAD", "DELETE"])) return;
      if (method === "DELETE") {
        const message = await readCloseMessage(req, res, params);
        if (message === null) return;
        if (!(await deps.closeSession(id, message))) return sendError(res, 404, "not_found", `no session ${id}`);
        res.writeHead(204).end();
        return;
      }
      const details = await deps.queries.getSession(id);
      if (details === undefined) return sendError(res, 404, "not_found", `no session ${id}`);
      return sendJson(res, 200, details);
    }
    if (sub === "pages" && pageId !== undefined && pageId !== "") {
      if (!allow(res, method, ["DELETE"])) return;
      const message = await readCloseMessage(req, res, params);
      if (message === null) return;
      if (!(await deps.closePage(id, pageId, message))) return sendError(res, 404, "not_found", `no page ${pageId} in session ${id}`);
      res.writeHead(204).end();
      return;
    }
    if (sub === "messages" && pageId === undefined) {
      if (!allow(res, method, ["POST"])) return;
      return postMessage(req, res, id);
    }
    sendError(res, 404, "not_found", `no route for ${method} ${path}`);
  }

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

  /** The parsed JSON body, or undefined after answering 413 / 400. */
  async function readJson(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
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

  return (req, res) => {
    route(req, res).catch((error: unknown) => {
      deps.log("error", "an HTTP request failed", { err: error, method: req.method, path: req.url?.split("?")[0] });
      sendError(res, 500, "internal", "the collector could not answer this request");
    });
  };
}

/** A bare JSON array, written in chunks with backpressure. */
async function streamSessions(res: ServerResponse, records: SessionRecord[], now: number, head: boolean): Promise<void> {
  res.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  if (head) {
    res.end();
    return;
  }
  let chunk = "[";
  for (let i = 0; i < records.length; i++) {
    chunk += (i === 0 ? "" : ",") + JSON.stringify(toSessionInfo(records[i]!, now));
    if (chunk.length >= CHUNK_CHARS) {
      const flushed = res.write(chunk);
      chunk = "";
      if (!flushed) {
        await waitForDrain(res);
        if (res.destroyed) return;
      }
    }
  }
  res.end(`${chunk}]`);
}

function allow(res: ServerResponse, method: string, allowed: string[]): boolean {
  if (allowed.includes(method)) return true;
  sendError(res, 405, "method_not_allowed", `use ${allowed.join(" or ")}`, { allow: allowed.join(", ") });
  return false;
}

function safeDecode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}
