import type { SessionFilter, SessionInfo } from "@sessionlens/shared";
import { BACKOFF_MAX_MS, createBackoff, decodeHttpError, readEventStream, SessionLensHttpError, SseParser } from "@sessionlens/shared/client";
import type { SessionDetails } from "./query/info.js";

export { SessionLensHttpError };

/**
 * `@sessionlens/collector/client`: a small query client for a gateway in another process. It only
 * needs a global `fetch` (Node >= 20, browsers); at run time it imports only
 * `@sessionlens/shared/client` (the backoff, event-stream parser and error decoder every client shares).
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
  /**
   * Told about failed connections; the watch keeps retrying unless the error is a
   * `SessionLensHttpError` with status 401 or 404, after which it stops.
   */
  onError?: (error: Error) => void;
  /** Told before each reconnect wait, with its length. */
  onRetry?: (delayMs: number, attempt: number) => void;
  /**
   * The first window of the reconnect backoff (`@sessionlens/shared/client`: full jitter, windows
   * doubling up to 30 s). A `retry:` the collector sends on the stream replaces it. Default `1_000`.
   */
  retryMs?: number;
  /** A stream that sent nothing, not even a heartbeat comment, for this long is dropped and reopened. Default `45_000`. */
  stallMs?: number;
}

export interface SessionWatch {
  /** Stops watching and closes the stream. */
  close(): void;
  /** Resolves when the first snapshot has arrived. */
  readonly ready: Promise<void>;
  /** Resolves when the watch has stopped: after close(), or after a 401 or 404 (told to `onError`). */
  readonly done: Promise<void>;
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
    throw await decodeHttpError(response);
  }

  function sessionPath(id: string): string {
    return `/api/v1/sessions/${encodeURIComponent(id)}`;
  }

  const client: SessionLensClient = {
    async getSessionInfo(first?: string | SessionFilter | null, projectFilter?: string | null) {
      const filter = typeof first === "object" && first !== null ? first : { usernameFilter: first ?? undefined, projectFilter: projectFilter ?? undefined };
      const response = await request("GET", `/api/v1/sessions${queryString(filter)}`);
      if (!response.ok) throw await decodeHttpError(response);
      return (await response.json()) as SessionInfo[];
    },
    async getSession(id) {
      const response = await request("GET", sessionPath(id));
      if (response.status === 404) {
        await response.body?.cancel();
        return null;
      }
      if (!response.ok) throw await decodeHttpError(response);
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
        let baseMs = firstDelayMs;
        let backoff = createBackoff({ baseMs, maxMs: BACKOFF_MAX_MS });
        const stallMs = watchOptions.stallMs ?? 45_000;
        while (!closed) {
          const parser = new SseParser();
          const attempt = new AbortController();
          const abort = (): void => attempt.abort();
          controller.signal.addEventListener("abort", abort, { once: true });
          let stallTimer: ReturnType<typeof setTimeout> | undefined;
          const armStallTimer = (): void => {
            clearTimeout(stallTimer);
            stallTimer = setTimeout(() => attempt.abort(new Error(`no data or heartbeat from the collector for ${stallMs} ms`)), stallMs);
          };
          let gotSnapshot = false;
          let endedCleanly = false;
          try {
            armStallTimer();
            const response = await doFetch(`${base}/api/v1/events${queryString(filter ?? {})}`, {
              headers: { ...authHeaders, accept: "text/event-stream" },
              signal: attempt.signal,
            });
            if (!response.ok || response.body === null) {
              const error = await decodeHttpError(response);
              if (response.status === 401 || response.status === 404) {
                watchOptions.onError?.(error);
                return;
              }
              throw error;
            }
            await readEventStream(
              response.body,
              (event) => {
                if (event.type === "snapshot") gotSnapshot = true;
                apply(event.type, event.data);
              },
              { parser, onActivity: armStallTimer, signal: attempt.signal },
            );
            if (attempt.signal.aborted) throw attempt.signal.reason;
            endedCleanly = true;
          } catch (error) {
            if (closed) return;
            watchOptions.onError?.(error instanceof Error ? error : new Error(String(error)));
          } finally {
            clearTimeout(stallTimer);
            controller.signal.removeEventListener("abort", abort);
          }
          if (closed) return;
          // The collector's retry: sets the schedule's first window.
          if (parser.retryMs !== undefined && parser.retryMs !== baseMs) {
            baseMs = parser.retryMs;
            backoff = createBackoff({ baseMs, maxMs: BACKOFF_MAX_MS });
          }
          // A stream that worked starts the schedule over; one the collector ended (a restart) skips its first window.
          if (gotSnapshot) backoff.reset(endedCleanly);
          const delayMs = backoff.next();
          watchOptions.onRetry?.(delayMs, backoff.attempts);
          await sleep(delayMs, controller.signal);
        }
      };
      const done = run();
      return {
        ready,
        done,
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

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
