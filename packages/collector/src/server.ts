import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import type { SessionFilter, SessionInfo } from "@sessionlens/shared";
import { pino, type Logger } from "pino";
import type { Registry } from "prom-client";
import { ClusterCommands } from "./cluster/commands.js";
import { ClusterView } from "./cluster/view.js";
import { EventHub } from "./http/events.js";
import { ConnectionGuard, createHostCheck, isLoopbackHost, withHostCheck } from "./http/guards.js";
import { createMetrics } from "./http/metrics.js";
import { createInjector } from "./http/inject.js";
import { StatsHistory } from "./http/stats.js";
import { createHttpHandler } from "./http/router.js";
import { StatusPage } from "./http/status-page.js";
import { LogBudget } from "./log-budget.js";
import { resolveOptions, type CollectorOptions, type ResolvedOptions, type TimerHandle } from "./options.js";
import { normaliseFilter } from "./query/filter.js";
import { SessionQueries, SessionTotals, type SessionDetails } from "./query/index.js";
import { toSessionInfo } from "./query/info.js";
import { ResumeCredentials } from "./sessions/credentials.js";
import { HooksConsumer, LifecycleEmitter, type LifecycleEventName, type LifecycleEvents } from "./sessions/hooks.js";
import { IdentityVerifier } from "./sessions/identity.js";
import { SessionModel } from "./sessions/model.js";
import { loadResumeSecret } from "./sessions/secret.js";
import { UserAgentCache } from "./sessions/useragent.js";
import { createMemoryStore } from "./store/memory.js";
import type { SessionPersistence } from "./store/port.js";
import { RedisPersistence } from "./store/redis.js";
import { createAddressResolver, limitKey } from "./transport/address.js";
import { AgentTransport } from "./transport/agents.js";
import { messageFramer } from "./transport/frames.js";

/** Where a listening collector can be reached. */
export interface CollectorAddress {
  host: string;
  port: number;
  /** `http://host:port` for the API and the status page. */
  url: string;
  /** `ws://host:port/ws` for agents. */
  wsUrl: string;
}

export interface Collector {
  /** Loads the secret and the stored sessions, then listens. Resolves with the address. */
  listen(): Promise<CollectorAddress>;
  /**
   * Graceful shutdown: readiness turns 503, agents are told with close code 1012 (service restart:
   * they come back and resume), timers stop, a final snapshot is written and the store closes.
   */
  close(): Promise<void>;
  /** The address while listening, else null. */
  address(): CollectorAddress | null;
  /** Sessions as SPEC.md's thirteen keys. Filters: exact, case-sensitive, `*` any run. */
  getSessionInfo(usernameFilter?: string | null, projectFilter?: string | null): Promise<SessionInfo[]>;
  getSessionInfo(filter: SessionFilter): Promise<SessionInfo[]>;
  /** One session with details (device, created time, pages with paths and bytes), or undefined. */
  getSession(id: string): Promise<SessionDetails | undefined>;
  /** Closes a session (pages get closeSession and close code 4000); false when unknown. */
  closeSession(id: string, message?: string): Promise<boolean>;
  /** Closes one page (closePage, close code 4001); false when unknown. */
  closePage(id: string, pageId: string, message?: string): Promise<boolean>;
  /**
   * Delivers `{type, payload}` to the session's connected pages (or one page); false when the
   * session or page is unknown. Rejects with a `CommandError` when the payload is too deep or large.
   */
  sendMessage(id: string, type: string, payload: unknown, pageId?: string): Promise<boolean>;
  /** Lifecycle hooks; returns a function that removes the handler. */
  on<E extends LifecycleEventName>(event: E, handler: LifecycleEvents[E]): () => void;
  off<E extends LifecycleEventName>(event: E, handler: LifecycleEvents[E]): void;
  /** The `node:http` request handler (API, metrics, status page), usable without listening. */
  readonly handleRequest: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * Answers a web `Request` in process, without a port (as hono's `app.request()`): a path such as
   * `"/api/v1/sessions"` or a full `Request`. The response resolves with its head; its body streams.
   */
  request(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** The HTTP server that carries the API and the `/ws` endpoint. */
  readonly server: Server;
  /** This collector's Prometheus registry. */
  readonly metrics: Registry;
  /** The persistence port in use. */
  readonly store: SessionPersistence;
  readonly options: Readonly<ResolvedOptions>;
}

const DEFAULT_STATUS_PAGE_DIR = fileURLToPath(new URL("../status-page/dist", import.meta.url));

/** Creates a collector. Nothing starts until `listen()`. */
export function createCollector(options: CollectorOptions = {}): Collector {
  const o = resolveOptions(options, DEFAULT_STATUS_PAGE_DIR);
  const logger: Logger = o.logger ?? pino({ name: "sessionlens", level: "warn" }, pino.destination({ dest: 2, sync: true }));
  const log = (level: "warn" | "error" | "info" | "debug", message: string, details: Record<string, unknown> = {}): void => {
    logger[level](details, message);
  };
  const clock = o.clock;
  const now = (): number => clock.now();
  // Failures that can recur with every session, frame or event (a store that fails every write, a
  // consumer or lifecycle handler that throws every time): each message at most 10 lines per 10 s.
  const repeatedLog = new LogBudget(log, now, { per: "message" }).asLog();
  const redisStore =
    o.redis === undefined
      ? null
      : new RedisPersistence({
          url: o.redis.url,
          cluster: o.redis.cluster,
          prefix: o.redis.prefix,
          nodeId: o.redis.nodeId ?? defaultNodeId(o.port),
          leaseTtlMs: o.redis.leaseTtlMs,
          flushIntervalMs: o.redis.flushIntervalMs,
          commandTimeoutMs: o.redis.commandTimeoutMs,
          pageGraceMs: o.pageGraceMs,
          sessionTimeoutMs: o.sessionTimeoutMs,
          tombstoneTtlMs: o.resumeMaxAgeMs,
          now,
          scheduler: o.scheduler,
          onWarning: (message, error) => log("warn", message, error === undefined ? {} : { err: error }),
        });
  const storeStats = { unreadableSnapshots: 0 };
  const store =
    o.store ??
    redisStore ??
    createMemoryStore({
      dataDir: o.dataDir,
      snapshotIntervalMs: o.snapshotIntervalMs,
      countersIntervalMs: o.countersIntervalMs,
      tombstoneTtlMs: o.resumeMaxAgeMs,
      scheduler: o.scheduler,
      maxTombstones: o.maxTombstones,
      now,
      onWarning: (message, error) => log("warn", message, { err: error }),
      onUnreadableSnapshot: (message, error) => {
        storeStats.unreadableSnapshots++;
        log("error", message, { err: error });
      },
    });
  const userAgents = new UserAgentCache();
  const credentials = new ResumeCredentials();
  const emitter = new LifecycleEmitter((message, details) => repeatedLog("warn", message, details));
  const model = new SessionModel({
    store,
    credentials,
    identity: new IdentityVerifier(o.identitySecret, now),
    userAgents,
    framer: messageFramer,
    clock,
    pageGraceMs: o.pageGraceMs,
    sessionTimeoutMs: o.sessionTimeoutMs,
    resumeMaxAgeMs: o.resumeMaxAgeMs,
    maxPayloadDepth: o.maxPayloadDepth,
    maxMessageBytes: o.maxMessageBytes,
    resolutionMs: o.sweepIntervalMs,
    log: repeatedLog,
  });
  const transport = new AgentTransport({
    model,
    clock,
    scheduler: o.scheduler,
    allowedOrigins: o.allowedOrigins,
    trustProxy: o.trustProxy,
    maxConnectionsPerIp: o.maxConnectionsPerIp,
    connectionRatePerIp: o.connectionRatePerIp,
    connectionBurstPerIp: o.connectionBurstPerIp,
    connectionRate: o.connectionRate,
    connectionBurst: o.connectionBurst,
    helloTimeoutMs: o.helloTimeoutMs,
    maxMessagesPerWindow: o.maxMessagesPerWindow,
    rateWindowMs: o.rateWindowMs,
    heartbeatMs: o.heartbeatMs,
    idleTimeoutMs: o.idleTimeoutMs,
    keepaliveMs: o.keepaliveMs,
    resolutionMs: o.sweepIntervalMs,
    log: repeatedLog,
  });
  // The change feed's consumers, besides the persistence port (the model's own first consumer).
  model.feed.subscribe(new HooksConsumer(emitter, toSessionInfo, now));
  // Several collectors: every read goes through the cluster view, commands through Redis too.
  const view = redisStore === null ? null : new ClusterView({ store: redisStore, localFeed: model.feed, now, scheduler: o.scheduler, log });
  const commands =
    redisStore === null || view === null
      ? null
      : new ClusterCommands({ model, view, connection: redisStore.connection, channel: redisStore.keys.commands, nodeId: redisStore.nodeId, log });
  const queries =
    view === null
      ? new SessionQueries(model.index, model.feed, clock, userAgents)
      : new SessionQueries(view.index, view.feed, clock, userAgents, () => view.partial);
  const resolveAddress = createAddressResolver(o.trustProxy);
  const events = new EventHub({
    queries,
    clock,
    scheduler: o.scheduler,
    coalesceMs: o.sseCoalesceMs,
    heartbeatMs: o.sseHeartbeatMs,
    maxBufferBytes: o.sseMaxBufferBytes,
    stallMs: o.sseStallMs,
    maxSubscribers: o.sseMaxSubscribers,
    maxSubscribersPerAddress: o.sseMaxSubscribersPerIp,
    addressKeyOf: (req) => limitKey(resolveAddress(req)),
    log,
  });
  const httpStats = { connectionsRefused: 0, badRequests: 0 };
  const totals = new SessionTotals(model.feed);
  const metrics = createMetrics({
    queries,
    totals,
    transport,
    events,
    store: storeStats,
    http: httpStats,
    maxProjectLabels: o.maxProjectLabels,
    notReadyReason: () => notReadyReason(),
  });
  const stats = new StatsHistory({
    clock,
    scheduler: o.scheduler,
    intervalMs: o.statsIntervalMs,
    windowMs: o.statsWindowMs,
    read: () => ({ tallies: queries.tally(), bytesReported: totals.bytesReported, rejected: transport.stats.rejected }),
  });

  let state: "new" | "starting" | "running" | "draining" | "closed" = "new";
  let starting: Promise<CollectorAddress> | null = null;
  let closing: Promise<void> | null = null;
  let sweepTimer: TimerHandle | null = null;
  let listening: CollectorAddress | null = null;

  const collectorApi = {
    closeSession: async (id: string, message?: string) => {
      const closed = commands === null ? model.closeSession(id, message) : await commands.closeSession(id, message);
      if (!closed) return false;
      // The tombstone is durable before the caller hears "closed": a crash right after must not revive it.
      // (With Redis unreachable it is written when Redis returns; the close itself is done.)
      await store.flush().catch((error: unknown) => {
        if (redisStore === null) throw error;
        log("warn", "a closed session's tombstone waits for Redis", { sessionId: id, err: error });
      });
      return true;
    },
    closePage: async (id: string, pageId: string, message?: string) =>
      commands === null ? model.closePage(id, pageId, message) : commands.closePage(id, pageId, message),
  };
  const sendMessage = async (id: string, type: string, payload: unknown, pageId?: string): Promise<number | null> =>
    commands === null ? model.sendMessage(id, type, payload, pageId) : commands.sendMessage(id, type, payload, pageId);

  async function notReadyReason(): Promise<string | null> {
    if (state === "draining" || state === "closed") return "the collector is shutting down";
    if (state !== "running") return "the collector is starting";
    return pingStore(store);
  }

  // One budget of client-error log lines for the server and the API together.
  const clientErrors = new LogBudget(log, now);
  const handleRequest = createHttpHandler({
    clientErrors,
    queries,
    ...collectorApi,
    sendMessage,
    events,
    metrics,
    stats,
    statusPage: new StatusPage(o.statusPageDir),
    apiToken: o.apiToken,
    maxMessageBytes: o.maxMessageBytes,
    now,
    notReadyReason,
    log,
  });

  // Slowloris: partial headers, slow bodies and idle keep-alives are cut off, every address holds a
  // bounded number of HTTP connections, and the server as a whole a bounded number of sockets.
  const server = createServer(
    {
      headersTimeout: Math.min(o.headersTimeoutMs, o.requestTimeoutMs),
      requestTimeout: o.requestTimeoutMs,
      keepAliveTimeout: o.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, o.headersTimeoutMs),
    },
    // DNS rebinding: only allowed Host names reach the API over the network.
    withHostCheck(handleRequest, createHostCheck(o.allowedHosts, o.host), clientErrors),
  );
  server.maxConnections = o.maxConnections;
  const connectionGuard = new ConnectionGuard({
    maxPerAddress: o.maxHttpConnectionsPerIp,
    trustProxy: o.trustProxy,
    keyOf: limitKey,
    onRefused: () => httpStats.connectionsRefused++,
  });
  connectionGuard.attach(server);
  server.on("drop", () => httpStats.connectionsRefused++);
  const request = createInjector(handleRequest);
  server.on("upgrade", (req, socket, head) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/ws") {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    socket.on("error", destroySocket);
    connectionGuard.upgraded(socket as Socket);
    transport.handleUpgrade(req, socket, head);
  });
  server.on("clientError", (error: Error & { code?: string }, socket) => {
    // A peer that reset its connection sent nothing wrong: nothing to answer or count.
    if (error.code === "ECONNRESET") return void socket.destroy();
    httpStats.badRequests++;
    clientErrors.write("a malformed HTTP request was refused", { code: error.code ?? "unknown", address: (socket as Socket).remoteAddress ?? "" });
    const timedOut = error.code === "ERR_HTTP_REQUEST_TIMEOUT";
    const status = timedOut ? "408 Request Timeout" : error.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\nX-Content-Type-Options: nosniff\r\n\r\n`);
    else socket.destroy();
  });

  async function start(): Promise<CollectorAddress> {
    state = "starting";
    credentials.setSecret(await loadResumeSecret(o.secret, o.dataDir));
    if (redisStore !== null && o.secret === undefined) {
      log("warn", "several collectors share sessions through Redis but no secret was given: set the same --secret (SESSIONLENS_SECRET) on every node, or a session cannot resume on another node");
    }
    await model.start();
    await view?.start();
    await commands?.start();
    transport.start();
    let pruning = false;
    sweepTimer = o.scheduler.setInterval(() => {
      try {
        transport.tick();
        model.tick();
      } catch (error) {
        log("error", "a lifecycle sweep failed", { err: error });
      }
      // Expired tombstones are forgotten a bounded batch at a time, one prune in flight at most.
      if (!pruning) {
        pruning = true;
        store
          .prune()
          .catch((error: unknown) => log("warn", "the store could not prune expired tombstones", { err: error }))
          .finally(() => (pruning = false));
      }
    }, o.sweepIntervalMs);
    stats.start();
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      server.once("error", onError);
      server.listen(o.port, o.host, () => {
        server.off("error", onError);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    listening = { host: address.address, port: address.port, url: `http://${host}:${address.port}`, wsUrl: `ws://${host}:${address.port}/ws` };
    state = "running";
    if (!isLoopbackHost(o.host) && o.apiToken === undefined) {
      log("warn", `the collector listens on ${o.host}, which is not a loopback address, and has no API token: anyone who can reach it can list and close sessions (set --api-token)`, { host: o.host });
    }
    log("info", `SessionLens collector listening on ${listening.url} (agents connect to ${listening.wsUrl})`, {
      url: listening.url,
      wsUrl: listening.wsUrl,
      store: o.store !== undefined ? "custom" : redisStore !== null ? "redis" : "memory",
      ...(redisStore === null ? {} : { nodeId: redisStore.nodeId }),
      dataDir: o.dataDir,
    });
    return listening;
  }

  async function stop(): Promise<void> {
    const wasStarted = state !== "new";
    state = "draining";
    // The model stops first: the sockets the transport is about to close are not pages leaving,
    // and thousands of grace deadlines and change events would only delay the restart.
    model.stop();
    await transport.close();
    if (sweepTimer !== null) o.scheduler.clear(sweepTimer);
    sweepTimer = null;
    stats.stop();
    events.close();
    view?.stop();
    if (wasStarted) await store.close();
    await new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    listening = null;
    state = "closed";
  }

  function getSessionInfo(first?: string | SessionFilter | null, projectFilter?: string | null): Promise<SessionInfo[]> {
    return queries.getSessionInfo(normaliseFilter(first, projectFilter));
  }

  return {
    listen() {
      if (state === "draining" || state === "closed") return Promise.reject(new Error("this collector was closed"));
      starting ??= start().catch(async (error: unknown) => {
        // A collector that failed to start (port taken, unreadable data dir) is spent: create a new one.
        closing ??= stop();
        await closing.catch(() => {});
        throw error;
      });
      return starting;
    },
    close() {
      closing ??= stop();
      return closing;
    },
    address: () => listening,
    getSessionInfo: getSessionInfo as Collector["getSessionInfo"],
    getSession: (id) => queries.getSession(id),
    ...collectorApi,
    sendMessage: async (id, type, payload, pageId) => (await sendMessage(id, type, payload, pageId)) !== null,
    on: (event, handler) => emitter.on(event, handler),
    off: (event, handler) => emitter.off(event, handler),
    handleRequest,
    request,
    server,
    metrics,
    store,
    options: o,
  };
}

let collectorsInProcess = 0;

/** The host name and port; with port 0 (picked at listen), the host name and a process-unique id. */
function defaultNodeId(port: number): string {
  return port === 0 ? `${hostname()}:${process.pid}.${++collectorsInProcess}` : `${hostname()}:${port}`;
}

async function pingStore(store: SessionPersistence): Promise<string | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      store.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), 2_000);
      }),
    ]);
    return null;
  } catch {
    return "the store is unreachable";
  } finally {
    clearTimeout(timer);
  }
}

/** The upgrading socket's error listener: one function for every socket, no closure per socket. */
function destroySocket(this: Duplex): void {
  this.destroy();
}
