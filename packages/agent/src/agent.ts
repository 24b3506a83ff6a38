import { nanoid } from "nanoid";
import {
  CLOSE_CODES,
  LIMITS,
  PROTOCOL_VERSION,
  detectScope,
  type AgentMessage,
  type PageCounters,
  type SessionScope,
} from "@sessionlens/shared";
import { installByteCounting, originMatcher } from "./bytes.js";
import { createConnection, type Connection, type WebSocketClass } from "./connection.js";
import { defaultEnvironment, type Environment, type PageWindow } from "./environment.js";
import { createIdentity, type TokenSource } from "./identity.js";
import { watchPage, whenActivated } from "./pages.js";
import { createSharedCredential } from "./credential.js";

export interface AgentOptions {
  /**
   * The collector's WebSocket endpoint (required), e.g. `ws://127.0.0.1:8787/ws`. `http(s)://` is
   * taken as `ws(s)://`; in a page a relative URL such as `/sessionlens/ws` is resolved against it.
   */
  url: string;
  /** The project the session runs (required): 1 to 128 characters. */
  project: string;
  /**
   * The identity: a JWT, or a function returning one (sync or async), which is called again when
   * the collector says the token expired. Default: none (`Unauthenticated`).
   */
  token?: TokenSource | null;
  /** The session scope. Default: the shared rules on the user agent ("designer" only when given). */
  scope?: SessionScope;
  /**
   * Count the request bodies the page sends to gateway origins by wrapping fetch,
   * Request, XMLHttpRequest.open/send, navigator.sendBeacon and WebSocket.send. Default `true` in a page;
   * never outside one. With `false` nothing is wrapped; the agent's own frames and `countBytes(n)`
   * still count.
   */
  countBytes?: boolean;
  /**
   * The origins that count as the gateway, e.g. `["https://app.example.com"]` (ws/wss URLs match
   * their http/https origin). Default: the page's origin and the collector's.
   */
  gatewayOrigins?: string[];
  /** The path reported for the page. Default: `location.pathname` (never the query string or hash); "/" outside a page. */
  pagePath?: () => string;
  /** The user agent reported. Default: `navigator.userAgent` ("" where there is none). */
  userAgent?: string;
  /**
   * Keep the session id and resume credential in the browser (IndexedDB, else localStorage), shared
   * by all tabs of this browser for this project and collector. Default `true` in a page; `false`
   * (and always outside a page) keeps them in memory, so each page load starts a new session.
   */
  storage?: boolean;
  /** The WebSocket class. Default: the global `WebSocket`; in Node pass `WebSocket` from `ws`. */
  WebSocket?: WebSocketClass;
  /**
   * The first reconnect window: a retry after a drop waits [0, base), after the collector's clean
   * 1001 / 1012 [base, 2·base); later windows double up to `backoffMaxMs`. Default `1000`.
   */
  backoffBaseMs?: number;
  /** The longest reconnect window (the cap). Default `30_000`. */
  backoffMaxMs?: number;
  /**
   * An attempt that has no welcome after this long is abandoned; also the longest wait for another
   * tab that is connecting, and for a token function. Default `10_000`.
   */
  connectTimeoutMs?: number;
  /** The shortest gap between two reports (a report follows byte counts and path changes). Default `1000`. */
  reportIntervalMs?: number;
}

/** Why the agent ended. */
export type CloseReason = "closed-session" | "closed-page" | "rejected" | "stopped";

export interface AgentEvents {
  /** A message the gateway sent to this session or page. */
  message: (type: string, payload: unknown) => void;
  /** The agent ended for good: closed by command, refused by the collector, or stopped. */
  close: (reason: CloseReason, message: string) => void;
  /** A welcome arrived: the page is connected (after every reconnect too). */
  connect: (sessionId: string) => void;
}

export interface Agent {
  /** The session id from the collector's last welcome; null before the first one. */
  readonly sessionId: string | null;
  /** This page load's id. */
  readonly pageId: string;
  /** Login: a JWT or a token function. */
  setToken(token: TokenSource): void;
  /** Logout: the session becomes Unauthenticated. */
  clearToken(): void;
  /** Adds bytes the app sent to the gateway by a path the agent does not see. */
  countBytes(bytes: number): void;
  /** Subscribes to an event; returns the function that unsubscribes. */
  on<E extends keyof AgentEvents>(event: E, listener: AgentEvents[E]): () => void;
  /** Says bye, closes the socket and undoes everything the agent installed. */
  stop(): void;
}

/** Defaults of the options above (the docs check, docs-tests/, compares the README with these). */
export const DEFAULTS = {
  backoffBaseMs: 1000,
  backoffMaxMs: 30_000,
  connectTimeoutMs: 10_000,
  reportIntervalMs: 1000,
  /** Reports and heartbeats wait while this much is still unsent on the socket. */
  maxBufferedBytes: 65_536,
};

/**
 * Starts reporting this page to the collector. Throws a TypeError for a missing or invalid `url`
 * or `project` (or no WebSocket); after that it never throws into the page. `environment` replaces
 * the clock, timers, randomness and page (tests).
 */
export function startAgent(options: AgentOptions, environment: Environment = defaultEnvironment()): Agent {
  const env = environment;
  const win = env.window;
  const project = options?.project;
  if (typeof project !== "string" || project.length < 1 || project.length > LIMITS.projectMaxChars) {
    throw new TypeError("SessionLens: `project` must be a string of 1 to 128 characters");
  }
  const url = collectorUrl(options.url, win);
  const scopeObject = (win ?? globalThis) as { WebSocket?: WebSocketClass; navigator?: Navigator };
  const WebSocketImpl = options.WebSocket ?? scopeObject.WebSocket;
  if (!WebSocketImpl) throw new TypeError("SessionLens: no WebSocket here; pass the `WebSocket` option (from ws)");
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
  const reportIntervalMs = options.reportIntervalMs ?? DEFAULTS.reportIntervalMs;

  const pageId = nanoid();
  // The counter series of this page: cumulative, resent in full on reconnect. A page restored from
  // the back/forward cache said bye, so its old series is final at the collector (which may have
  // forgotten it, e.g. across a restart); it starts a new series at zero so nothing counts twice.
  let epoch = Math.floor(env.now());
  let seq = 0;
  let bytes = 0;
  /** Bytes or path changed since the last hello or report. */
  let dirty = false;
  let sentPath = "";
  let sessionId: string | null = null;
  let ended = false;
  let lastError = "";
  let warnedToken = false;
  let reportTimer: unknown;
  let lastReportAt = -Infinity;
  const listeners: { [E in keyof AgentEvents]: AgentEvents[E][] } = { message: [], close: [], connect: [] };

  const userAgent = (options.userAgent ?? scopeObject.navigator?.userAgent ?? "").slice(0, LIMITS.userAgentChars);
  const scope = options.scope ?? touchScope(userAgent, win);
  /** The bytes the last frame written carried: what the collector may know of this series. */
  let reportedBytes = 0;
  const counters = (): PageCounters => ({ epoch, seq: seq++, bytes });
  const currentPath = (): string => {
    try {
      return String(options.pagePath ? options.pagePath() : win ? win.location.pathname : "/").slice(0, LIMITS.pathChars);
    } catch {
      return "/";
    }
  };

  function emit<E extends keyof AgentEvents>(event: E, ...args: Parameters<AgentEvents[E]>): void {
    for (const listener of listeners[event].slice()) {
      try {
        (listener as (...values: Parameters<AgentEvents[E]>) => void)(...args);
      } catch (error) {
        console.error(`[sessionlens] a "${event}" listener threw`, error);
      }
    }
  }

  const addBytes = (count: number): void => {
    bytes = Math.min(bytes + count, Number.MAX_SAFE_INTEGER);
  };

  /** Bytes the page sent to the gateway (requests, `countBytes`): reported soon. */
  const countAppBytes = (count: number): void => {
    if (count > 0 && !ended) {
      addBytes(count);
      changed();
    }
  };

  const send = (message: AgentMessage): boolean => {
    if (!connection.send(message, true)) return false;
    if ("bytes" in message) reportedBytes = message.bytes;
    return true;
  };

  const report = (): void => {
    const path = currentPath();
    if (send({ type: "report", path, ...counters() })) {
      dirty = false;
      sentPath = path;
      lastReportAt = env.now();
    }
  };

  /** Bytes or path changed: report soon, at most once per reportIntervalMs (a hello carries it when down). */
  const changed = (): void => {
    dirty = true;
    if (reportTimer !== undefined || !connection.isOpen()) return;
    reportTimer = env.setTimeout(
      () => {
        reportTimer = undefined;
        if (dirty) report();
      },
      Math.max(0, lastReportAt + reportIntervalMs - env.now()),
    );
  };

  const checkPath = (): void => {
    if (currentPath() !== sentPath) changed();
  };

  const credential = createSharedCredential(
    options.storage === false ? undefined : win,
    JSON.stringify([project, url]),
    env,
    connectTimeoutMs,
  );
  const ownSockets = new WeakSet<object>();

  const end = (reason: CloseReason, message: string): void => {
    if (ended) return;
    ended = true;
    env.clearTimeout(reportTimer);
    connection.close(reason === "stopped" ? { type: "bye", ...counters() } : undefined);
    unwatch();
    uncount();
    if (reason !== "stopped") console.warn(`[sessionlens] agent ended (${reason})${message ? `: ${message}` : ""}`);
    emit("close", reason, message);
  };

  const connection: Connection = createConnection(
    {
      url,
      WebSocket: WebSocketImpl,
      backoffBaseMs: options.backoffBaseMs ?? DEFAULTS.backoffBaseMs,
      backoffMaxMs: options.backoffMaxMs ?? DEFAULTS.backoffMaxMs,
      connectTimeoutMs,
      maxBufferedBytes: DEFAULTS.maxBufferedBytes,
      ownSockets,
    },
    {
      acquire: () => identity.ready().then(() => credential.acquire()),
      hello: (resume) => {
        dirty = false;
        sentPath = currentPath();
        const hello: AgentMessage = {
          type: "hello",
          v: PROTOCOL_VERSION,
          project,
          scope,
          userAgent,
          pageId,
          path: sentPath,
          resume,
          token: identity.token(),
          ...counters(),
        };
        reportedBytes = hello.bytes; // written as soon as it is built
        return hello;
      },
      welcome: (message) => {
        sessionId = message.sessionId;
        lastError = "";
        if (dirty) changed();
        emit("connect", message.sessionId);
      },
      message: (message) => {
        if (message.type === "error") {
          lastError = message.message;
          if (message.code === "token_expired") identity.expired();
          else if (message.code === "token_invalid" && !warnedToken) {
            warnedToken = true;
            console.warn(`[sessionlens] identity token refused: ${message.message}`);
          }
        } else if (message.type === "closeSession") end("closed-session", message.message);
        else if (message.type === "closePage") end("closed-page", message.message);
        else if (message.type === "message") emit("message", message.messageType, message.payload);
      },
      tick: () => {
        if (currentPath() !== sentPath) dirty = true;
        if (dirty) report();
        else send({ type: "heartbeat", ...counters() });
      },
      sent: addBytes,
      end: (code, reason) =>
        end(
          code === CLOSE_CODES.closedSession ? "closed-session" : code === CLOSE_CODES.closedPage ? "closed-page" : "rejected",
          reason || lastError,
        ),
    },
    env,
  );

  // After the connection: a token given as a string is "changed" at once, and sent if connected.
  const identity = createIdentity(options.token, (token) => connection.send({ type: "token", token }), env, connectTimeoutMs);

  const unwatch = win
    ? watchPage(win, {
        hide: () => {
          env.clearTimeout(reportTimer);
          reportTimer = undefined;
          const bye: AgentMessage = { type: "bye", ...counters() };
          if (connection.close(bye)) reportedBytes = bye.bytes;
        },
        restore: () => {
          epoch = Math.max(Math.floor(env.now()), epoch + 1);
          bytes -= reportedBytes; // what the bye could not carry (its own frame) opens the new series
          reportedBytes = 0;
          connection.connect();
        },
        wake: () => connection.wake(),
        // Report what is pending now rather than after the throttle: the page may never run again.
        hidden: () => dirty && report(),
        navigate: checkPath,
      }, env.now)
    : noop;

  let uncount = noop;
  if (win && options.countBytes !== false) {
    try {
      const isGateway = originMatcher(options.gatewayOrigins ?? [win.location.origin, url], win.location.href);
      uncount = installByteCounting(win, isGateway, countAppBytes, ownSockets);
    } catch (error) {
      console.warn("[sessionlens] byte counting is off", error);
    }
  }

  if (win) whenActivated(win, connection.connect);
  else connection.connect();

  return {
    get sessionId() {
      return sessionId;
    },
    pageId,
    setToken: (token) => identity.set(token),
    clearToken: () => identity.set(null),
    countBytes: (count) => countAppBytes(Math.floor(Number(count))),
    on(event, listener) {
      const list = listeners[event] as unknown[];
      list.push(listener);
      return () => {
        const index = list.indexOf(listener);
        if (index >= 0) list.splice(index, 1);
      };
    },
    stop: () => end("stopped", ""),
  };
}

function noop(): void {}

/** Absolute ws:/wss: URL of the collector; http(s) becomes ws(s), relative URLs resolve against the page. */
function collectorUrl(url: unknown, win: PageWindow | undefined): string {
  let parsed: URL | undefined;
  try {
    if (typeof url === "string") parsed = new URL(url, win?.location.href);
  } catch {
    // reported below
  }
  if (parsed) parsed.protocol = parsed.protocol.replace(/^http/, "ws");
  if (!parsed || !/^wss?:$/.test(parsed.protocol)) {
    throw new TypeError(`SessionLens: \`url\` must be a ws://, wss://, http:// or https:// URL, got ${String(url)}`);
  }
  return parsed.href;
}

/**
 * The collector derives the scope from the user agent with the same rules (scope null); only an
 * iPad WebView in desktop mode, which claims to be a Mac, needs what the page alone knows.
 */
function touchScope(userAgent: string, win: PageWindow | undefined): SessionScope | null {
  const scope = detectScope(userAgent, null, { maxTouchPoints: win?.navigator.maxTouchPoints });
  return scope !== detectScope(userAgent) ? scope : null;
}
