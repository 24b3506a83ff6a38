import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { CLOSE_CODES, LIMITS, validateAgentMessage } from "@sessionlens/shared";
import type { AgentMessageType, ErrorCode } from "@sessionlens/shared";
import { decodeFrame } from "@sessionlens/shared/codec";
import { WebSocketServer, type WebSocket } from "ws";
import type { Clock, Scheduler, TimerHandle } from "../options.js";
import type { SessionModel } from "../sessions/model.js";
import type { Page, PageSocket, PreparedMessage } from "../sessions/session.js";
import { Interner } from "../sessions/strings.js";
import { DeadlineWheel } from "../sessions/wheel.js";
import { createAddressResolver, limitKey, type AddressResolver } from "./address.js";
import {
  closePageFrame,
  closeSessionFrame,
  errorFrame,
  isHeartbeat,
  KEEPALIVE_FRAME,
  welcomeFrame,
  type EncodedMessage,
  type WelcomeFields,
} from "./frames.js";
import { closeCodeFor, ConnectionCounter, ConnectionRateLimiter, createOriginCheck } from "./limits.js";

export interface AgentTransportOptions {
  model: SessionModel;
  clock: Clock;
  /** Runs the liveness rounds and their pong deadlines. */
  scheduler: Scheduler;
  allowedOrigins: readonly string[];
  trustProxy: readonly string[];
  maxConnectionsPerIp: number;
  /** New connections per second per client address (token bucket refill rate). */
  connectionRatePerIp: number;
  /** New connections one address may open at once (token bucket size). */
  connectionBurstPerIp: number;
  /** New connections per second from all addresses together (token bucket refill rate). */
  connectionRate: number;
  /** New connections all addresses together may open at once (token bucket size). */
  connectionBurst: number;
  helloTimeoutMs: number;
  maxMessagesPerWindow: number;
  rateWindowMs: number;
  /** Silent sockets are pinged this often; one that does not answer is terminated. Told to agents. */
  heartbeatMs: number;
  /** Agents treat a socket as dead after this long without a frame (told in the welcome). */
  idleTimeoutMs: number;
  /** Quiet sockets (nothing sent to them) get a keepalive frame this often. */
  keepaliveMs: number;
  resolutionMs: number;
  log: (level: "warn" | "error" | "info" | "debug", message: string, details?: Record<string, unknown>) => void;
}

export interface TransportStats {
  /** Agent frames received and handed to the session model, by type. */
  frames: Record<AgentMessageType, number>;
  connectionsOpened: number;
  /** Closed connections by WebSocket close code. */
  connectionsClosed: Map<number, number>;
  /** Refused frames and connections by reason (error codes, plus `missed_pong`). */
  rejected: Map<string, number>;
}

const enum State {
  AwaitingHello,
  Welcoming,
  Open,
  /** The page said bye; further frames are ignored until the socket closes. */
  Left,
  Closing,
  Closed,
}

/** Liveness bits: something arrived since the last round; something arrived since the last ping; a ping awaits its check. */
const SEEN = 1;
const ANSWERED = 2;
const PING_PENDING = 4;

/** What ws reads at most; frames between the protocol cap and this get an error frame `too_large`. */
const WS_MAX_PAYLOAD = 2 * LIMITS.maxAgentFrameBytes;

/** Frames that may queue behind a hello that is still being verified. */
const MAX_QUEUED_WHILE_WELCOMING = 16;
/**
 * How long a shutdown lets its close frames leave before it terminates the sockets. Short: every
 * millisecond spent here is one more in which a restarting collector refuses its agents.
 */
const SHUTDOWN_CLOSE_WAIT_MS = 200;

const kConnection = Symbol("sessionlens.connection");
type AgentSocket = WebSocket & { [kConnection]?: AgentConnection };

/**
 * The agents' WebSocket endpoint: `ws` in noServer mode behind the collector's one HTTP server.
 * Admission (origin, per-address cap), the hello deadline, the per-connection rate limit,
 * decoding and validation, and liveness (ping only silent sockets) live here; what a frame means
 * is the session model's business.
 */
export class AgentTransport {
  readonly stats: TransportStats = {
    frames: { hello: 0, report: 0, heartbeat: 0, token: 0, bye: 0 },
    connectionsOpened: 0,
    connectionsClosed: new Map(),
    rejected: new Map(),
  };
  readonly connections = new Set<AgentConnection>();
  readonly #wss: WebSocketServer;
  readonly #o: AgentTransportOptions;
  readonly #originAllowed: (origin: string | undefined) => boolean;
  readonly #resolveAddress: AddressResolver;
  readonly #perAddress: ConnectionCounter;
  readonly #newPerAddress: ConnectionRateLimiter;
  readonly #newOverall: ConnectionRateLimiter;
  readonly #helloDeadlines: DeadlineWheel<AgentConnection>;
  readonly #addresses = new Interner(100_000);
  readonly #keepaliveRounds: number;
  #livenessTimer: TimerHandle | null = null;
  #draining = false;

  constructor(options: AgentTransportOptions) {
    this.#o = options;
    this.#wss = new WebSocketServer({
      noServer: true,
      // Room above the protocol's cap, so a frame a little over it is read and refused with an
      // error frame (onFrame); only frames over twice the cap are cut off by ws itself (1009, no frame).
      maxPayload: WS_MAX_PAYLOAD,
      // Compression costs about 5x CPU and memory for frames of under 100 bytes.
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.#originAllowed = createOriginCheck(options.allowedOrigins);
    this.#resolveAddress = createAddressResolver(options.trustProxy);
    this.#perAddress = new ConnectionCounter(options.maxConnectionsPerIp);
    this.#newPerAddress = new ConnectionRateLimiter(options.connectionRatePerIp, options.connectionBurstPerIp);
    this.#newOverall = new ConnectionRateLimiter(options.connectionRate, options.connectionBurst);
    this.#helloDeadlines = new DeadlineWheel(options.resolutionMs);
    this.#keepaliveRounds = Math.max(1, Math.round(options.keepaliveMs / options.heartbeatMs));
  }

  get model(): SessionModel {
    return this.#o.model;
  }

  get options(): AgentTransportOptions {
    return this.#o;
  }

  start(): void {
    this.#livenessTimer = this.#o.scheduler.setInterval(() => this.#checkLiveness(), this.#o.heartbeatMs);
  }

  /** Takes over an HTTP upgrade request for `/ws`. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#draining) {
      socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    this.#wss.handleUpgrade(request, socket, head, (ws) => this.#accept(ws as AgentSocket, request));
  }

  /** Fires hello deadlines; forgets the connection-rate buckets of addresses that went quiet. */
  tick(): void {
    const now = this.#o.clock.now();
    this.#newPerAddress.prune(now);
    this.#newOverall.prune(now);
    for (const connection of this.#helloDeadlines.takeDue(now)) {
      if (connection.state === State.AwaitingHello) {
        connection.reject("hello_timeout", `no hello within ${this.#o.helloTimeoutMs} ms`);
      }
    }
  }

  /**
   * Refuses new agents and tells connected ones to come back soon: every socket gets its close
   * frame (1012, service restart) and its end (FIN) at once, and stops being read;
   * SHUTDOWN_CLOSE_WAIT_MS later, time for both to leave, every socket is terminated. The agents'
   * answering close frames are not waited for: reading and handling 10,000 of them (with the
   * socket teardown each one starts) kept a restarting collector busy for over a second, during
   * which the new one could not listen. The end tells each agent at once that the connection is
   * over (its close event waits for it), so its restart backoff starts now, not when the socket is
   * finally terminated; a socket terminated with the answer unread is reset by the kernel after the
   * close frame and the end, which the agent has already read: it sees 1012.
   */
  async close(): Promise<void> {
    this.#draining = true;
    if (this.#livenessTimer !== null) this.#o.scheduler.clear(this.#livenessTimer);
    this.#livenessTimer = null;
    this.#helloDeadlines.clear();
    // 1012 (service restart): agents come back after a short, spread-out wait.
    for (const connection of this.connections) {
      connection.close(CLOSE_CODES.serviceRestart, "collector restarting");
      connection.ws.pause();
      connection.socket.end();
    }
    if (this.connections.size > 0) {
      await new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_CLOSE_WAIT_MS).unref());
    }
    for (const connection of this.connections) connection.ws.terminate();
    this.#wss.close();
  }

  countRejected(reason: string): void {
    this.stats.rejected.set(reason, (this.stats.rejected.get(reason) ?? 0) + 1);
  }

  /** Cancels the hello deadline of a connection that said hello (or closed). */
  helloDone(connection: AgentConnection): void {
    this.#helloDeadlines.cancel(connection);
  }

  closed(connection: AgentConnection, code: number): void {
    this.connections.delete(connection);
    this.#helloDeadlines.cancel(connection);
    if (connection.countedAddress) this.#perAddress.remove(limitKey(connection.clientAddress));
    this.stats.connectionsClosed.set(code, (this.stats.connectionsClosed.get(code) ?? 0) + 1);
  }

  #accept(ws: AgentSocket, request: IncomingMessage): void {
    this.stats.connectionsOpened++;
    let clientAddress: string;
    try {
      clientAddress = this.#resolveAddress(request);
    } catch {
      clientAddress = request.socket.remoteAddress ?? "";
    }
    clientAddress = this.#addresses.intern(clientAddress);
    const connection = new AgentConnection(ws, clientAddress, this, request.socket);
    ws[kConnection] = connection;
    ws.on("message", onMessage);
    ws.on("close", onClose);
    ws.on("error", onError);
    this.connections.add(connection);
    if (this.#draining) {
      connection.reject("shutting_down", "the collector is shutting down");
      return;
    }
    const origin = request.headers.origin;
    if (!this.#originAllowed(origin)) {
      connection.reject("origin_not_allowed", `origin ${origin === undefined ? "(none)" : JSON.stringify(origin).slice(0, 80)} is not allowed`);
      return;
    }
    // Per address (IPv6 by /64), and overall: many source addresses do not add up to more.
    const key = limitKey(clientAddress);
    const now = this.#o.clock.now();
    if (!this.#newOverall.tryTake("", now)) {
      connection.reject(
        "rate_limited",
        `more than ${this.#o.connectionRate} new connections per second in all`,
        closeCodeFor("rate_limited"),
        "connection_rate_limited",
      );
      return;
    }
    if (!this.#newPerAddress.tryTake(key, now)) {
      connection.reject(
        "rate_limited",
        `more than ${this.#o.connectionRatePerIp} new connections per second from this address`,
        closeCodeFor("rate_limited"),
        "connection_rate_limited",
      );
      return;
    }
    if (!this.#perAddress.tryAdd(key)) {
      connection.reject("too_many_connections", `at most ${this.#o.maxConnectionsPerIp} connections per address`);
      return;
    }
    connection.countedAddress = true;
    this.#helloDeadlines.schedule(connection, this.#o.clock.now() + this.#o.helloTimeoutMs);
  }

  #checkLiveness(): void {
    // Sockets that sent anything since the last round are alive; only the silent ones are pinged,
    // so heartbeats double as liveness and pings cost nothing while agents talk.
    const pinged: AgentConnection[] = [];
    for (const connection of this.connections) {
      if (connection.state !== State.Open && connection.state !== State.Left) continue;
      // Agents cannot see pings: a socket we sent nothing to lately gets a keepalive frame.
      if (++connection.quietRounds >= this.#keepaliveRounds) connection.send(KEEPALIVE_FRAME);
      const flags = connection.liveness;
      if ((flags & SEEN) !== 0) {
        connection.liveness = flags & ~SEEN;
        continue;
      }
      if ((flags & PING_PENDING) !== 0) continue;
      connection.liveness = (flags | PING_PENDING) & ~ANSWERED;
      pinged.push(connection);
      try {
        // Listen for the pong only while waiting for one: every listener costs memory per socket.
        if (connection.ws.listenerCount("pong") === 0) connection.ws.once("pong", onPong);
        connection.ws.ping();
      } catch {
        // Already closing: its close event will follow.
      }
    }
    if (pinged.length === 0) return;
    this.#o.scheduler.setTimeout(() => {
      for (const connection of pinged) {
        const flags = connection.liveness;
        connection.liveness = flags & ~PING_PENDING;
        if ((flags & ANSWERED) === 0 && connection.state !== State.Closed) {
          this.countRejected("missed_pong");
          connection.ws.terminate();
        }
      }
    }, pongWaitMs(this.#o.heartbeatMs));
  }
}

/** One agent socket; implements the session model's `PageSocket`. */
export class AgentConnection implements PageSocket {
  state = State.AwaitingHello;
  page: Page | null = null;
  /** Liveness bits (SEEN, ANSWERED, PING_PENDING) in one small integer. */
  liveness = SEEN | ANSWERED;
  /** Liveness rounds since anything was sent to this socket. */
  quietRounds = 0;
  countedAddress = false;
  #serverClosing = false;
  /** Index of the current rate window (a small integer, so no boxed number per connection). */
  #window = 0;
  #windowCount = 0;
  #queue: unknown[] | null = null;

  constructor(
    readonly ws: AgentSocket,
    readonly clientAddress: string,
    readonly transport: AgentTransport,
    /** The socket under `ws` (a shutdown ends it without waiting for the closing handshake). */
    readonly socket: Duplex,
  ) {}

  get open(): boolean {
    return this.ws.readyState === 1;
  }

  send(frame: Uint8Array): void {
    if (this.ws.readyState !== 1) return;
    this.quietRounds = 0;
    this.ws.send(frame);
  }

  close(code: number, reason: string): void {
    if (this.state === State.Closed) return;
    this.#serverClosing = true;
    this.state = State.Closing;
    try {
      this.ws.close(code, reason.slice(0, 120));
    } catch {
      this.ws.terminate();
    }
  }

  welcome(fields: WelcomeFields): void {
    const { heartbeatMs, idleTimeoutMs } = this.transport.options;
    this.send(welcomeFrame(fields, heartbeatMs, idleTimeoutMs));
  }

  closeSession(message: string): void {
    this.send(closeSessionFrame(message));
    this.close(CLOSE_CODES.closedSession, "session closed");
  }

  closePage(message: string): void {
    this.send(closePageFrame(message));
    this.close(CLOSE_CODES.closedPage, "page closed");
  }

  deliver(message: PreparedMessage): void {
    this.send((message as EncodedMessage).frame);
  }

  error(code: ErrorCode, message: string): void {
    this.send(errorFrame(code, message));
  }

  replace(): void {
    this.#serverClosing = true;
    this.page = null;
    this.state = State.Closing;
    this.ws.terminate();
  }

  /** Refuses with an error frame and the close code that goes with `code`; counted in metrics. */
  reject(code: ErrorCode, message: string, closeCode = closeCodeFor(code), countAs: string = code): void {
    if (this.state === State.Closing || this.state === State.Closed) return;
    this.transport.countRejected(countAs);
    this.error(code, message);
    this.close(closeCode, message);
  }

  onFrame(data: Buffer, isBinary: boolean): void {
    const state = this.state;
    if (state >= State.Closing) return;
    if (data.length > LIMITS.maxAgentFrameBytes) {
      this.reject("too_large", `frames may be at most ${LIMITS.maxAgentFrameBytes} bytes`, CLOSE_CODES.messageTooBig);
      return;
    }
    this.liveness |= SEEN | ANSWERED;
    const options = this.transport.options;
    const now = options.clock.now();
    const window = Math.floor(now / options.rateWindowMs) | 0;
    if (window !== this.#window) {
      this.#window = window;
      this.#windowCount = 0;
    }
    if (++this.#windowCount > options.maxMessagesPerWindow) {
      this.reject("rate_limited", `more than ${options.maxMessagesPerWindow} messages in ${options.rateWindowMs} ms`);
      return;
    }
    if (state === State.Left) return;
    if (!isBinary) {
      this.reject("bad_encoding", "frames must be binary msgpack");
      return;
    }
    const decoded = decodeFrame(data);
    if (!decoded.ok) {
      this.reject(decoded.error.code, decoded.error.message);
      return;
    }
    const value = decoded.value;
    // The frame that is 99% of traffic goes straight to the model, unvalidated-copy free.
    if (state === State.Open && this.page !== null && isHeartbeat(value)) {
      this.transport.stats.frames.heartbeat++;
      this.transport.model.counters(this.page, value.epoch, value.seq, value.bytes, null, now);
      return;
    }
    this.#dispatch(value);
  }

  onClosed(code: number): void {
    if (this.state === State.Closed) return;
    const clean = !this.#serverClosing && (code === CLOSE_CODES.normal || code === CLOSE_CODES.goingAway);
    this.state = State.Closed;
    this.transport.closed(this, code);
    const page = this.page;
    this.page = null;
    if (page !== null) this.transport.model.disconnected(page, this, clean);
  }

  #dispatch(value: unknown): void {
    if (this.state === State.Welcoming) {
      // A hello is being verified; keep order by queueing what follows it.
      (this.#queue ??= []).push(value);
      if (this.#queue.length > MAX_QUEUED_WHILE_WELCOMING) this.reject("rate_limited", "too many frames before the welcome");
      return;
    }
    const validated = validateAgentMessage(value);
    if (!validated.ok) {
      this.reject(validated.error.code, validated.error.message);
      return;
    }
    const message = validated.value;
    const model = this.transport.model;
    if (this.state === State.AwaitingHello) {
      if (message.type !== "hello") {
        this.reject("hello_required", `the first frame must be a hello, not ${message.type}`);
        return;
      }
      this.state = State.Welcoming;
      this.transport.helloDone(this);
      this.transport.stats.frames.hello++;
      model.hello(this, message, this.clientAddress).then(
        (outcome) => {
          if (this.state !== State.Welcoming) {
            // Closed while welcoming: the page must not stay connected to a dead socket.
            if (outcome.ok) model.disconnected(outcome.page, this, false);
            return;
          }
          if (!outcome.ok) {
            if (outcome.refusal === "page_closed") {
              this.transport.countRejected("closed_page");
              this.closePage(outcome.message);
            } else if (outcome.refusal === "socket_closed") {
              this.close(CLOSE_CODES.normal, outcome.message);
            } else {
              this.reject(outcome.refusal, outcome.message);
            }
            return;
          }
          this.page = outcome.page;
          this.state = State.Open;
          const queued = this.#queue;
          this.#queue = null;
          for (const frame of queued ?? []) {
            if (this.state !== State.Open) break;
            this.#dispatch(frame);
          }
        },
        (error: unknown) => {
          this.transport.options.log("error", "hello failed", { err: error });
          this.reject("shutting_down", "the collector could not admit this page");
        },
      );
      return;
    }
    const page = this.page;
    if (page === null) return;
    if (message.type !== "hello") this.transport.stats.frames[message.type]++;
    switch (message.type) {
      case "hello":
        this.reject("duplicate_hello", "hello was already received on this connection");
        return;
      case "heartbeat":
        model.counters(page, message.epoch, message.seq, message.bytes, null, this.transport.options.clock.now());
        return;
      case "report":
        model.counters(page, message.epoch, message.seq, message.bytes, message.path, this.transport.options.clock.now());
        return;
      case "token":
        model.token(page, message.token).catch((error: unknown) => {
          this.transport.options.log("error", "token handling failed", { err: error });
        });
        return;
      case "bye":
        model.bye(page, message.epoch, message.seq, message.bytes);
        this.page = null;
        this.state = State.Left;
        return;
    }
  }
}

/** How long a pinged socket has to answer: half an interval, at least 1 s (a busy loop is not a dead peer), at most 5 s. */
function pongWaitMs(heartbeatMs: number): number {
  return Math.min(Math.max(heartbeatMs / 2, 1_000), 5_000);
}

// Shared listeners (one function for all sockets, not closures per socket): `this` is the socket.
function onMessage(this: AgentSocket, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
  const connection = this[kConnection];
  if (connection === undefined) return;
  try {
    connection.onFrame(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data), isBinary);
  } catch (error) {
    // Never past the socket handler: log, refuse this connection, leave everyone else alone.
    connection.transport.options.log("error", "a frame could not be handled", { err: error });
    connection.reject("bad_field", "the frame could not be handled");
  }
}

function onClose(this: AgentSocket, code: number): void {
  this[kConnection]?.onClosed(code);
}

function onError(this: AgentSocket, error: Error & { code?: string }): void {
  const connection = this[kConnection];
  if (connection === undefined) return;
  // ws closes the socket itself (1009 for frames over twice the protocol cap, 1002/1007 for protocol errors).
  connection.transport.countRejected(error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH" ? "too_large" : "bad_frame");
}

function onPong(this: AgentSocket): void {
  const connection = this[kConnection];
  if (connection !== undefined) connection.liveness |= SEEN | ANSWERED;
}
