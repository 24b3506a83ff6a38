import type { Logger } from "pino";
import type { SessionPersistence } from "./store/port.js";

/** A source of wall-clock time in milliseconds; injected so tests can fake time. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A timer started by a `Scheduler`; only good for giving back to its `clear`. */
export type TimerHandle = object;

/**
 * Timers of the collector's time-driven work (lifecycle sweeps, socket liveness, event-stream
 * coalescing and comments, snapshot writes), injected like the clock so tests advance time
 * instead of sleeping. Timers never keep the process alive.
 */
export interface Scheduler {
  setTimeout(callback: () => void, ms: number): TimerHandle;
  setInterval(callback: () => void, ms: number): TimerHandle;
  clear(handle: TimerHandle): void;
}

/** Node's timers, `unref()`'d. */
export const systemScheduler: Scheduler = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  setInterval: (callback, ms) => setInterval(callback, ms).unref(),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Options of `createCollector`. Every one is optional; the defaults are listed. */
export interface CollectorOptions {
  /** Interface to listen on. Default `"127.0.0.1"`. */
  host?: string;
  /** Port to listen on; 0 picks a free one. Default `8787`. */
  port?: number;
  /**
   * Where session state is persisted. Default: the embedded store, durable in `dataDir`. Pass any
   * `SessionPersistence` subclass to use another backend.
   */
  store?: SessionPersistence;
  /**
   * Share sessions with other collectors through Redis (see "Running several collectors"). Every
   * node answers for every session of the cluster; commands reach the node holding the page.
   * Ignored when `store` is given. Default: none (one collector, embedded store).
   */
  redis?: RedisOptions;
  /**
   * Folder for the resume secret and the store snapshot. `null` keeps nothing on disk (a restart
   * then forgets every session and the resume secret). Default `".sessionlens"` (relative to the
   * working directory).
   */
  dataDir?: string | null;
  /** Secret that signs resume credentials (nodes of a cluster share it). Default: created once in `dataDir`. */
  secret?: string;
  /** HS256 secret shared with the gateway to verify identity tokens. Default: none (no token verifies). */
  identitySecret?: string;
  /** When set, every `/api/` call needs `Authorization: Bearer <apiToken>`. Default: none. */
  apiToken?: string;
  /** Origins allowed to open agent sockets; empty allows any (webviews often send none). Default `[]`. */
  allowedOrigins?: string[];
  /** Proxies trusted to report the client address (proxy-addr syntax: CIDRs, `loopback`...). Default `[]`. */
  trustProxy?: string[];
  /** A session with no pages ends after this long. Default `60_000` (60 s). */
  sessionTimeoutMs?: number;
  /** A page whose socket dropped leaves after this long unless it reconnects. Default `15_000` (15 s). */
  pageGraceMs?: number;
  /** Heartbeat interval told to agents, also the ping interval for silent sockets. Default `10_000`. */
  heartbeatMs?: number;
  /** Agents treat a socket as dead after this long without a frame. Default `4 * heartbeatMs` (40 s). */
  idleTimeoutMs?: number;
  /**
   * A socket that was sent nothing for this long gets a `keepalive` frame, so the agent's idle
   * timer sees a live connection (browsers hide pings from scripts). Rounded to whole heartbeat
   * intervals; keep it at least one heartbeat under `idleTimeoutMs`. Default `3 * heartbeatMs`
   * (30 s): one frame per three heartbeats. Each costs a write system call, as much CPU as reading a
   * heartbeat: one per heartbeat measured about +40%, one per two about +8% (bench/NOTES.md).
   */
  keepaliveMs?: number;
  /** An agent that has not sent its hello within this long is disconnected (4408). Default `5_000`. */
  helloTimeoutMs?: number;
  /** Frames one connection may send per `rateWindowMs` before it is closed (4429). Default `40`. */
  maxMessagesPerWindow?: number;
  /** Window of the per-connection rate limit. Default `1_000`. */
  rateWindowMs?: number;
  /** Agent sockets per client address; more are refused (4429). Default `1024` (plants put many HMIs behind one NAT). */
  maxConnectionsPerIp?: number;
  /** Cap of `POST /api/v1/sessions/:id/messages` bodies and of message frames. Default `65_536`. */
  maxMessageBytes?: number;
  /** Deepest nesting of a message payload. Default `32`. */
  maxPayloadDepth?: number;
  /** How long a resume credential stays valid, and how long ended sessions are remembered. Default 7 days. */
  resumeMaxAgeMs?: number;
  /**
   * Ended sessions remembered (tombstones) by the embedded store, at most; beyond it the oldest are
   * forgotten, and resume credentials issued before the latest of their end times no longer
   * recreate a session. Default `200_000`.
   */
  maxTombstones?: number;
  /**
   * New agent connections per second one client address may open (token bucket, refilled at this
   * rate, holding `connectionBurstPerIp`); more are refused with `rate_limited` and 4429. Default `50`.
   */
  connectionRatePerIp?: number;
  /** Burst of new agent connections one client address may open at once. Default `500`. */
  connectionBurstPerIp?: number;
  /**
   * New agent connections per second from all addresses together (token bucket refilled at this
   * rate, holding `connectionBurst`), so many source addresses do not add up to more. Default `5_000`.
   */
  connectionRate?: number;
  /** Burst of new agent connections from all addresses together. Default `50_000`. */
  connectionBurst?: number;
  /**
   * TCP connections (HTTP and agent sockets together) the server holds at most; more are closed as
   * they arrive (`--max-connections`). Default `50_000`.
   */
  maxConnections?: number;
  /**
   * HTTP connections one client address may hold that are not (yet) agent sockets: requests,
   * keep-alive connections and handshakes in progress. More are closed as they arrive. Addresses
   * of trusted proxies (`trustProxy`) are exempt. IPv6 addresses count by /64. Default `256`.
   */
  maxHttpConnectionsPerIp?: number;
  /** A request whose headers have not all arrived within this long gets 408 and is closed. Default `10_000`. */
  headersTimeoutMs?: number;
  /** A request (headers and body) not received in full within this long gets 408 and is closed. Default `30_000`. */
  requestTimeoutMs?: number;
  /** An idle keep-alive HTTP connection is closed after this long. Default `5_000`. */
  keepAliveTimeoutMs?: number;
  /**
   * `Host` header values served (names or addresses, with or without a port; `*` allows any);
   * others get 403 (DNS rebinding). Empty: while bound to a loopback address only loopback names
   * and addresses (`localhost`, `127.0.0.1`, `[::1]`...), otherwise any. Default `[]`.
   */
  allowedHosts?: string[];
  /** The durable store writes its snapshot at most this often after a structural change. Default `2_000`. */
  snapshotIntervalMs?: number;
  /**
   * The durable store writes its counters file (bytes that rose, nothing structural) at most this
   * often, rounded up to whole `snapshotIntervalMs`. Default `10_000` (one agent heartbeat).
   */
  countersIntervalMs?: number;
  /** Distinct `project` label values in `/metrics`; the rest are folded into `other`. Default `50`. */
  maxProjectLabels?: number;
  /** Event-stream updates of one session are coalesced to one per this interval. Default `250`. */
  sseCoalesceMs?: number;
  /** Comment heartbeats on the event stream keep proxies from closing it. Default `15_000`. */
  sseHeartbeatMs?: number;
  /** An event-stream subscriber whose unsent output exceeds this is dropped. Default `1_048_576` (1 MiB). */
  sseMaxBufferBytes?: number;
  /** The status page's charts get one sample of `GET /api/v1/stats` per this long. Default `5_000`. */
  statsIntervalMs?: number;
  /** How far back `GET /api/v1/stats` keeps samples (memory is fixed by window / interval). Default `3_600_000` (1 h). */
  statsWindowMs?: number;
  /**
   * An event-stream subscriber whose socket accepts nothing (a write stays pending) for this long is
   * dropped, whatever the kernel buffers absorbed before. Default `5_000`.
   */
  sseStallMs?: number;
  /** Event-stream subscribers at most; more get 503 `too_many_subscribers`. Default `1_000`. */
  sseMaxSubscribers?: number;
  /** Event-stream subscribers per client address (IPv6 by /64); more get 429 `too_many_subscribers`. Default `16`. */
  sseMaxSubscribersPerIp?: number;
  /** Folder of the built status page. Default: `status-page/dist` of this package. */
  statusPageDir?: string;
  /** Structured logger (pino). Default: pino at level `warn` on stderr. */
  logger?: Logger;
  /** Time source. Default: `Date.now`. */
  clock?: Clock;
  /**
   * Timers of sweeps, liveness, event-stream coalescing and snapshot writes. Default: Node's
   * timers (`unref()`'d). Tests pass a fake one together with a fake `clock`.
   */
  scheduler?: Scheduler;
  /** How often lifecycle deadlines are checked. Default `250`. */
  sweepIntervalMs?: number;
}

/** Options of several collectors sharing sessions through Redis. */
export interface RedisOptions {
  /** `redis://host:6379`, `rediss://...`, or `redis+cluster://host:port` for a Redis Cluster. */
  url: string;
  /** Treat `url` as a node of a Redis Cluster. Default `false` (true for `redis+cluster://`). */
  cluster?: boolean;
  /** Every key and channel starts with it. Default `"sessionlens:"`. */
  prefix?: string;
  /**
   * This collector's name in the cluster, shown for each page it holds. Unique per node.
   * Default: the host name and port (`host:8787`); with port 0, the host name and a process-unique id.
   */
  nodeId?: string;
  /** A node whose lease (renewed every third of it) is gone is dead; survivors age out its pages. Default `5_000`. */
  leaseTtlMs?: number;
  /** Counter changes (bytes, `lastComm`) are written at most this often. Default `1_000`. */
  flushIntervalMs?: number;
  /** A Redis command fails after this long without an answer. Default `2_000`. */
  commandTimeoutMs?: number;
}

/** Options with every default applied. */
export interface ResolvedOptions
  extends Required<Omit<CollectorOptions, "store" | "redis" | "secret" | "identitySecret" | "apiToken" | "logger" | "dataDir">> {
  store: SessionPersistence | undefined;
  redis: RedisOptions | undefined;
  dataDir: string | null;
  secret: string | undefined;
  identitySecret: string | undefined;
  apiToken: string | undefined;
  logger: Logger | undefined;
}

export const DEFAULTS = {
  host: "127.0.0.1",
  port: 8787,
  dataDir: ".sessionlens",
  sessionTimeoutMs: 60_000,
  pageGraceMs: 15_000,
  heartbeatMs: 10_000,
  helloTimeoutMs: 5_000,
  maxMessagesPerWindow: 40,
  rateWindowMs: 1_000,
  maxConnectionsPerIp: 1_024,
  maxMessageBytes: 65_536,
  maxPayloadDepth: 32,
  resumeMaxAgeMs: 7 * 24 * 3_600_000,
  maxTombstones: 200_000,
  connectionRatePerIp: 50,
  connectionBurstPerIp: 500,
  connectionRate: 5_000,
  connectionBurst: 50_000,
  maxConnections: 50_000,
  maxHttpConnectionsPerIp: 256,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  snapshotIntervalMs: 2_000,
  countersIntervalMs: 10_000,
  maxProjectLabels: 50,
  sseCoalesceMs: 250,
  sseHeartbeatMs: 15_000,
  sseMaxBufferBytes: 1_048_576,
  sseStallMs: 5_000,
  sseMaxSubscribers: 1_000,
  sseMaxSubscribersPerIp: 16,
  sweepIntervalMs: 250,
  statsIntervalMs: 5_000,
  statsWindowMs: 3_600_000,
} as const;

/** The options that must be positive numbers and have a fixed default. */
type PositiveOption = Exclude<{ [K in keyof typeof DEFAULTS]: (typeof DEFAULTS)[K] extends number ? K : never }[keyof typeof DEFAULTS], "port">;

export function resolveOptions(options: CollectorOptions, defaultStatusPageDir: string): ResolvedOptions {
  /** The option, else its default; a `RangeError` unless positive. */
  const positiveOption = (name: PositiveOption): number => positive(name, options[name] ?? DEFAULTS[name]);
  const heartbeatMs = positiveOption("heartbeatMs");
  return {
    host: options.host ?? DEFAULTS.host,
    port: options.port ?? DEFAULTS.port,
    store: options.store,
    redis: options.redis === undefined || options.store !== undefined ? undefined : resolveRedis(options.redis),
    dataDir: options.dataDir === undefined ? DEFAULTS.dataDir : options.dataDir,
    secret: nonEmpty(options.secret),
    identitySecret: nonEmpty(options.identitySecret),
    apiToken: nonEmpty(options.apiToken),
    allowedOrigins: (options.allowedOrigins ?? []).map((origin) => origin.trim()).filter(Boolean),
    trustProxy: (options.trustProxy ?? []).map((cidr) => cidr.trim()).filter(Boolean),
    sessionTimeoutMs: positiveOption("sessionTimeoutMs"),
    pageGraceMs: positiveOption("pageGraceMs"),
    heartbeatMs,
    idleTimeoutMs: positive("idleTimeoutMs", options.idleTimeoutMs ?? heartbeatMs * 4),
    keepaliveMs: positive("keepaliveMs", options.keepaliveMs ?? heartbeatMs * 3),
    helloTimeoutMs: positiveOption("helloTimeoutMs"),
    maxMessagesPerWindow: positiveOption("maxMessagesPerWindow"),
    rateWindowMs: positiveOption("rateWindowMs"),
    maxConnectionsPerIp: positiveOption("maxConnectionsPerIp"),
    maxMessageBytes: positiveOption("maxMessageBytes"),
    maxPayloadDepth: positiveOption("maxPayloadDepth"),
    resumeMaxAgeMs: positiveOption("resumeMaxAgeMs"),
    maxTombstones: positiveOption("maxTombstones"),
    connectionRatePerIp: positiveOption("connectionRatePerIp"),
    connectionBurstPerIp: positiveOption("connectionBurstPerIp"),
    connectionRate: positiveOption("connectionRate"),
    connectionBurst: positiveOption("connectionBurst"),
    maxConnections: positiveOption("maxConnections"),
    maxHttpConnectionsPerIp: positiveOption("maxHttpConnectionsPerIp"),
    headersTimeoutMs: positiveOption("headersTimeoutMs"),
    requestTimeoutMs: positiveOption("requestTimeoutMs"),
    keepAliveTimeoutMs: positiveOption("keepAliveTimeoutMs"),
    allowedHosts: (options.allowedHosts ?? []).map((host) => host.trim()).filter(Boolean),
    snapshotIntervalMs: positiveOption("snapshotIntervalMs"),
    countersIntervalMs: positiveOption("countersIntervalMs"),
    maxProjectLabels: positiveOption("maxProjectLabels"),
    sseCoalesceMs: positiveOption("sseCoalesceMs"),
    sseHeartbeatMs: positiveOption("sseHeartbeatMs"),
    sseMaxBufferBytes: positiveOption("sseMaxBufferBytes"),
    statsIntervalMs: positiveOption("statsIntervalMs"),
    statsWindowMs: positiveOption("statsWindowMs"),
    sseStallMs: positiveOption("sseStallMs"),
    sseMaxSubscribers: positiveOption("sseMaxSubscribers"),
    sseMaxSubscribersPerIp: positiveOption("sseMaxSubscribersPerIp"),
    statusPageDir: options.statusPageDir ?? defaultStatusPageDir,
    logger: options.logger,
    clock: options.clock ?? systemClock,
    scheduler: options.scheduler ?? systemScheduler,
    sweepIntervalMs: positiveOption("sweepIntervalMs"),
  };
}

/**
 * Parses a duration: `"500ms"`, `"15s"`, `"2m"`, `"1h"` (units in any case: `"15S"`); a bare
 * number means seconds.
 * Returns milliseconds, or throws a `RangeError` naming the bad value.
 */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!match) throw new RangeError(`"${text}" is not a duration; use e.g. 500ms, 15s, 2m or a number of seconds`);
  const value = Number(match[1]);
  const unit = match[2]?.toLowerCase() ?? "s";
  const factor = unit === "ms" ? 1 : unit === "s" ? 1_000 : unit === "m" ? 60_000 : 3_600_000;
  const ms = Math.round(value * factor);
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new RangeError(`"${text}" is not a positive duration`);
  return ms;
}

function resolveRedis(redis: RedisOptions): RedisOptions {
  if (typeof redis.url !== "string" || redis.url === "") throw new RangeError("redis.url is required to share sessions through Redis");
  if (!/^(redis|rediss|redis\+cluster):\/\//.test(redis.url)) throw new RangeError(`redis.url must start with redis://, rediss:// or redis+cluster://, got "${redis.url}"`);
  for (const name of ["leaseTtlMs", "flushIntervalMs", "commandTimeoutMs"] as const) {
    if (redis[name] !== undefined) positive(`redis.${name}`, redis[name]);
  }
  return { ...redis, prefix: redis.prefix ?? "sessionlens:", nodeId: redis.nodeId === "" ? undefined : redis.nodeId };
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
