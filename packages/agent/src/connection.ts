import {
  PERMANENT_CLOSE_CODES,
  RESTART_CLOSE_CODES,
  type AgentMessage,
  type CollectorMessage,
  type HelloMessage,
  type WelcomeMessage,
} from "@sessionlens/shared";
import { createBackoff } from "@sessionlens/shared/client";
import { decodeFrame, encodeFrame } from "./codec.js";
import type { Environment } from "./environment.js";
import type { Lease } from "./credential.js";

/** A WebSocket class: the browser's, or `WebSocket` from the ws package in Node. */
export type WebSocketClass = new (url: string) => unknown;

/** The part of a WebSocket the agent uses (the browser's and ws's agree on it). */
interface Socket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  onopen: (() => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: (() => void) | null;
  send(data: Uint8Array): void;
  close(code?: number): void;
}

export interface ConnectionOptions {
  url: string;
  WebSocket: WebSocketClass;
  /**
   * The first backoff window: a retry after a drop waits [0, base), after the collector's clean
   * 1001/1012 close [base, 2 · base); each later window doubles, up to `backoffMaxMs`.
   */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** An attempt without a welcome by then is abandoned. */
  connectTimeoutMs: number;
  /** Optional frames (reports, heartbeats) are skipped while more than this waits in the socket. */
  maxBufferedBytes: number;
  /** The agent's own sockets, so the WebSocket.send wrapper does not count them twice. */
  ownSockets: WeakSet<object>;
}

/** What the connection asks of the agent and tells it. */
export interface ConnectionEvents {
  /** Before each attempt: the shared credential, held (other tabs wait) until the welcome. */
  acquire(): Promise<Lease>;
  /** The hello, built when the socket opens so that it carries the latest full state. */
  hello(resume: string | null): HelloMessage;
  welcome(message: WelcomeMessage): void;
  /** Every other valid collector frame. */
  message(message: CollectorMessage): void;
  /** A heartbeat is due. */
  tick(): void;
  /** Bytes of a frame the agent wrote. */
  sent(bytes: number): void;
  /** The collector refused the agent for good (a permanent close code); no more attempts follow. */
  end(code: number, reason: string): void;
}

export interface Connection {
  /** True from the welcome until the socket ends. */
  isOpen(): boolean;
  /** Sends a frame once the hello is out; `optional` frames yield to a congested socket. */
  send(message: AgentMessage, optional?: boolean): boolean;
  /** Connects now unless connecting or connected; also ends a close(). */
  connect(): void;
  /** The network or the page came back: skip the backoff wait, or drop a socket gone silent. */
  wake(): void;
  /** Sends `last` (a bye) when it can, closes cleanly and stays down until connect(). */
  close(last?: AgentMessage): boolean;
}

/** A connection has to stay up this long before a drop starts the backoff from scratch again. */
const STABLE_MS = 5000;
const OPEN = 1;
const noop = (): void => undefined;

/**
 * One WebSocket to the collector, kept up: hello with the full state on every connect, heartbeats
 * at the welcome's interval, a socket silent for the welcome's idleTimeoutMs treated as dead, and
 * reconnects after the shared backoff (`@sessionlens/shared/client`: full jitter, capped), so a
 * restarted collector is not hit by every agent at once. A collector that closes with 1001 or
 * 1012 is restarting and refuses connections for a moment: the first retry is spread over
 * [base, 2 · base) instead of [0, base), so agents do not spend their early attempts on it.
 *
 * There is no message queue: every agent frame carries the full cumulative state, so while the
 * socket is down nothing is kept but the state itself, which the next hello sends.
 */
export function createConnection(options: ConnectionOptions, events: ConnectionEvents, env: Environment): Connection {
  let phase: "idle" | "waiting" | "connecting" | "open" = "idle";
  /** After close(): no reconnects until connect(). */
  let down = true;
  let socket: Socket | null = null;
  let helloSent = false;
  let lease: Lease | null = null;
  /** Bumped by close(): an acquire that returns afterwards is handed back unused. */
  let generation = 0;
  const backoff = createBackoff({ baseMs: options.backoffBaseMs, maxMs: options.backoffMaxMs }, () => env.random(), () => env.now());
  let retryTimer: unknown;
  let connectTimer: unknown;
  let beatTimer: unknown;
  let heartbeatMs = 10_000;
  let idleTimeoutMs = 0;
  let lastReceivedAt = 0;
  let welcomedAt = 0;

  const releaseLease = (next: Parameters<Lease["release"]>[0]): void => {
    const held = lease;
    lease = null;
    held?.release(next);
  };

  /** Forgets the socket (closing it without a code unless given one), its timers and the lease. */
  const teardown = (code?: number): void => {
    env.clearTimeout(connectTimer);
    env.clearTimeout(beatTimer);
    env.clearTimeout(retryTimer);
    releaseLease(null);
    const old = socket;
    socket = null;
    helloSent = false;
    phase = "idle";
    if (old) {
      old.onopen = old.onmessage = old.onclose = null;
      try {
        old.close(code);
      } catch {
        // already closing
      }
    }
  };

  const write = (message: AgentMessage): boolean => {
    try {
      const frame = encodeFrame(message);
      socket!.send(frame);
      events.sent(frame.byteLength);
      return true;
    } catch {
      return false;
    }
  };

  /** Waits out the backoff, then connects. `restarting`: the collector closed with 1001/1012. */
  const retry = (wasStable: boolean, restarting = false): void => {
    if (down) return;
    // A connection that stayed up starts the schedule over; a flapping one keeps escalating.
    if (wasStable) backoff.reset(restarting);
    phase = "waiting";
    retryTimer = env.setTimeout(connect, backoff.next());
  };

  const stable = (): boolean => phase === "open" && env.now() - welcomedAt >= STABLE_MS;

  /** Gives up on the current socket without waiting for its close event (a dead one may never send it). */
  const abandon = (restarting?: boolean): void => {
    const wasStable = stable();
    teardown();
    retry(wasStable, restarting);
  };

  const silent = (): boolean => idleTimeoutMs > 0 && env.now() - lastReceivedAt > idleTimeoutMs;

  const beat = (): void => {
    beatTimer = env.setTimeout(() => {
      if (silent()) return abandon();
      events.tick();
      if (phase === "open") beat();
    }, heartbeatMs);
  };

  const received = (data: unknown): void => {
    lastReceivedAt = env.now();
    const message = decodeFrame(data);
    if (!message) return;
    if (message.type !== "welcome") return events.message(message);
    if (phase === "open") return; // one welcome per connection
    env.clearTimeout(connectTimer);
    phase = "open";
    welcomedAt = lastReceivedAt;
    heartbeatMs = Math.max(1000, message.heartbeatMs || 10_000);
    idleTimeoutMs = message.idleTimeoutMs;
    releaseLease({ sessionId: message.sessionId, resume: message.resume });
    beat();
    events.welcome(message);
  };

  const open = (resume: string | null): void => {
    let ws: Socket;
    try {
      ws = new options.WebSocket(options.url) as Socket;
      ws.binaryType = "arraybuffer";
    } catch {
      // A URL the browser refuses, or a CSP connect-src block: retried like any failure.
      return abandon();
    }
    socket = ws;
    options.ownSockets.add(ws);
    // ws (Node) throws on an 'error' event nobody listens to; the close event follows it anyway.
    ws.onerror = noop;
    ws.onopen = () => {
      helloSent = true;
      lastReceivedAt = env.now();
      write(events.hello(resume));
    };
    ws.onmessage = (event) => received(event.data);
    ws.onclose = (event) => {
      if (PERMANENT_CLOSE_CODES.indexOf(event.code) < 0) return abandon(RESTART_CLOSE_CODES.indexOf(event.code) >= 0);
      teardown();
      down = true;
      events.end(event.code, event.reason);
    };
    connectTimer = env.setTimeout(() => abandon(), options.connectTimeoutMs);
  };

  function connect(): void {
    // After close(), the schedule starts from now, not from an old drop.
    if (down) backoff.reset();
    down = false;
    if (phase === "connecting" || phase === "open") return;
    env.clearTimeout(retryTimer);
    phase = "connecting";
    const mine = ++generation;
    events
      .acquire()
      .catch((): Lease => ({ credential: null, release: noop }))
      .then((held) => {
        if (mine !== generation || down) return held.release(null);
        lease = held;
        open(held.credential ? held.credential.resume : null);
      });
  }

  return {
    isOpen: () => phase === "open",
    send(message, optional) {
      if (!socket || !helloSent || socket.readyState !== OPEN) return false;
      if (optional && socket.bufferedAmount > options.maxBufferedBytes) return false;
      return write(message);
    },
    connect,
    wake() {
      if (phase === "waiting") connect();
      else if (phase === "open" && silent()) abandon();
    },
    close(last) {
      down = true;
      generation++;
      const written = last !== undefined && socket !== null && helloSent && socket.readyState === OPEN && write(last);
      teardown(1000);
      return written;
    },
  };
}
