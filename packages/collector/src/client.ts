import type { SessionFilter, SessionInfo } from "@sessionlens/shared";
import type { SessionDetails } from "./query/info.js";

/**
 * `@sessionlens/collector/client`: a small query client for a gateway in another process. It only
 * needs a global `fetch` (Node >= 20, browsers) and imports nothing at run time.
 */
export interface ClientOptions {
  /** The collector's HTTP address, e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** The collector's API token, sent as `Authorization: Bearer`. */
  token?: string;
  /** A fetch implementation. Default: the global one. */
  fetch?: typeof fetch;
}

export type SessionChange =
  | { type: "snapshot"; sessions: SessionInfo[] }
  | { type: "upsert"; session: SessionInfo }
  | { type: "remove"; id: string; reason: string };

export interface WatchOptions {
  /** Told about failed connections; the watch keeps retrying unless the error is 401 or 404. */
  onError?: (error: Error) => void;
  /** First reconnect delay; doubles up to 30 s, with jitter. Default `1_000`. */
  retryMs?: number;
}

export interface SessionWatch {
  /** Stops watching and closes the stream. */
  close(): void;
  /** Resolves when the first snapshot has arrived. */
  readonly ready: Promise<void>;
}

export interface SessionLensClient {
  getSessionInfo(usernameFilter?: string | null, projectFilter?: string | null): Promise<SessionInfo[]>;
  getSessionInfo(filter: SessionFilter): Promise<SessionInfo[]>;
  /** One session with details, or null when there is none. */
  getSession(id: string): Promise<SessionDetails | null>;
  /** Closes a session; false when there is no such session. */
  closeSession(id: string, message?: string): Promise<boolean>;
  /** Closes one page; false when there is no such session or page. */
  closePage(id: string, pageId: string, message?: string): Promise<boolean>;
  /** Sends `{type, payload}` to the session's pages (or one page); false when unknown. */
  sendMessage(id: string, type: string, payload: unknown, pageId?: string): Promise<boolean>;
  /**
   * Watches sessions live over `GET /api/v1/events`: `onChange` gets the full current list after
   * every change, plus the change. Reconnects by itself and starts over from a fresh snapshot.
   */
  watchSessions(
    filter: SessionFilter | undefined,
    onChange: (sessions: SessionInfo[], change: SessionChange) => void,
    options?: WatchOptions,
  ): SessionWatch;
}

/** An HTTP answer that was not a success, with the collector's error code. */
export class SessionLensHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "SessionLensHttpError";
  }
}

export function createClient(options: ClientOptions): SessionLensClient {
  const base = options.url.replace(/\/+$/, "");
  const doFetch = options.fetch ?? globalThis.fetch;
  if (typeof doFetch !== "function") throw new TypeError("no fetch implementation: pass `fetch` in the options");
  const authHeaders: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};

  async function request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { ...authHeaders, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    return doFetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: signal ?? null,
    });
  }

  /** True for 2xx, false for 404, throws otherwise. */
  async function command(method: string, path: string, body?: unknown): Promise<boolean> {
    const response = await request(method, path, body);
    if (response.ok) {
      await response.body?.cancel();
      return true;
    }
    if (response.status === 404) {
      await response.body?.cancel();
      return false;
    }
    throw await httpError(response);
  }

  function sessionPath(id: string): string {
    return `/api/v1/sessions/${encodeURIComponent(id)}`;
  }

  const client: SessionLensClient = {
    async getSessionInfo(first?: string | SessionFilter | null, projectFilter?: string | null) {
      const filter = typeof first === "object" && first !== null ? first : { usernameFilter: first ?? undefined, projectFilter: projectFilter ?? undefined };
      const response = await request("GET", `/api/v1/sessions${queryString(filter)}`);
      if (!response.ok) throw await httpError(response);
      return (await response.json()) as SessionInfo[];
    },
    async getSession(id) {
      const response = await request("GET", sessionPath(id));
      if (response.status === 404) {
        await response.body?.cancel();
        return null;
      }
      if (!response.ok) throw await httpError(response);
      return (await response.json()) as SessionDetails;
    },
    closeSession: (id, message) => command("DELETE", sessionPath(id), message === undefined ? undefined : { message }),
    closePage: (id, pageId, message) =>
      command("DELETE", `${sessionPath(id)}/pages/${encodeURIComponent(pageId)}`, message === undefined ? undefined : { message }),
    sendMessage: (id, type, payload, pageId) =>
      command("POST", `${sessionPath(id)}/messages`, pageId === undefined ? { type, payload } : { type, payload, pageId }),
    watchSessions(filter, onChange, watchOptions = {}) {
      const controller = new AbortController();
      const sessions = new Map<string, SessionInfo>();
      const firstDelayMs = watchOptions.retryMs ?? 1_000;
      let resolveReady!: () => void;
      const ready = new Promise<void>((resolve) => (resolveReady = resolve));
      let closed = false;

      const apply = (type: string, data: string): void => {
        let change: SessionChange;
        if (type === "snapshot") {
          const list = JSON.parse(data) as SessionInfo[];
          sessions.clear();
          for (const session of list) sessions.set(session.id, session);
          change = { type: "snapshot", sessions: list };
          resolveReady();
        } else if (type === "upsert") {
          const session = JSON.parse(data) as SessionInfo;
          sessions.set(session.id, session);
          change = { type: "upsert", session };
        } else if (type === "remove") {
          const { id, reason } = JSON.parse(data) as { id: string; reason: string };
          sessions.delete(id);
          change = { type: "remove", id, reason };
        } else {
          return;
        }
        onChange(Array.from(sessions.values()), change);
      };

      const run = async (): Promise<void> => {
        let delayMs = firstDelayMs;
        while (!closed) {
          try {
            const response = await doFetch(`${base}/api/v1/events${queryString(filter ?? {})}`, {
              headers: { ...authHeaders, accept: "text/event-stream" },
              signal: controller.signal,
            });
            if (!response.ok || response.body === null) {
              const error = await httpError(response);
              if (response.status === 401 || response.status === 404) {
                watchOptions.onError?.(error);
                return;
              }
              throw error;
            }
            let gotSnapshot = false;
            await readEventStream(response.body, (type, data) => {
              if (type === "snapshot") gotSnapshot = true;
              apply(type, data);
            });
            if (gotSnapshot) delayMs = firstDelayMs;
          } catch (error) {
            if (closed) return;
            watchOptions.onError?.(error instanceof Error ? error : new Error(String(error)));
          }
          if (closed) return;
          await sleep(delayMs / 2 + Math.random() * (delayMs / 2), controller.signal);
          delayMs = Math.min(delayMs * 2, 30_000);
        }
      };
      void run();
      return {
        ready,
        close() {
          closed = true;
          controller.abort();
        },
      };
    },
  };
  return client;
}

/** `?usernameFilter=…&projectFilter=…`, or "" when neither is set. */
export function queryString(filter: SessionFilter): string {
  const params = new URLSearchParams();
  if (filter.usernameFilter) params.set("usernameFilter", filter.usernameFilter);
  if (filter.projectFilter) params.set("projectFilter", filter.projectFilter);
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}

async function httpError(response: Response): Promise<SessionLensHttpError> {
  let code = "http_error";
  let message = `HTTP ${response.status} ${response.statusText}`.trim();
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === "string") code = body.error.code;
    if (typeof body.error?.message === "string") message = body.error.message;
  } catch {
    // Not our JSON error: keep the status line.
  }
  return new SessionLensHttpError(response.status, code, message);
}

/** Reads a text/event-stream body, calling `onEvent(type, data)` per event. */
async function readEventStream(body: ReadableStream<Uint8Array>, onEvent: (type: string, data: string) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let type = "";
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r\n|\n|\r/)) !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer[newline] === "\r" && buffer[newline + 1] === "\n" ? 2 : 1));
        if (line === "") {
          if (data.length > 0) onEvent(type || "message", data.join("\n"));
          type = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let fieldValue = colon === -1 ? "" : line.slice(colon + 1);
        if (fieldValue.startsWith(" ")) fieldValue = fieldValue.slice(1);
        if (field === "event") type = fieldValue;
        else if (field === "data") data.push(fieldValue);
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
