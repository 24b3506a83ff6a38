// Types only: the `redis` package (about 200 ms to load, half of the collector's start) is loaded
// by `connect()`, so a collector without Redis never loads it and a restart listens sooner.
import type { createClient, createCluster } from "redis";

/**
 * One way to reach Redis for the store, whether a single server or a Redis Cluster: raw commands
 * routed by their first key, Lua scripts by SHA with a fallback to EVAL, and classic pub/sub.
 *
 * The offline queue is disabled: while Redis is unreachable a command fails at once instead of
 * piling up in memory, and every command has a timeout.
 */
export interface RedisConnectionOptions {
  /** `redis://host:port`, `rediss://...`, or `redis+cluster://host:port` for a Redis Cluster. */
  url: string;
  /** Treat `url` as one node of a Redis Cluster even without `redis+cluster://`. Default `false`. */
  cluster?: boolean;
  /** A command that has no answer after this long fails. Default `2_000`. */
  commandTimeoutMs?: number;
  /** Connecting gives up after this long (then retries). Default `2_000`. */
  connectTimeoutMs?: number;
  /** Told when the connection drops or returns. */
  onState?: (ready: boolean, error?: unknown) => void;
}

/** A Lua script with the SHA Redis knows it by. */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

export type PubSubListener = (message: string, channel: string) => void;

export interface RedisConnection {
  readonly isCluster: boolean;
  /** Whether commands can be sent now. */
  readonly ready: boolean;
  connect(): Promise<void>;
  /** Sends one command, routed by `key` on a cluster (undefined: any node). */
  command<T = unknown>(key: string | undefined, args: readonly string[]): Promise<T>;
  /** Runs a script whose keys all share one hash slot (routed by the first key). */
  script<T = unknown>(script: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<T>;
  subscribe(channel: string, listener: PubSubListener): Promise<void>;
  /**
   * Calls `listener` each time the subscriber connection is back after a drop (messages sent
   * meanwhile were lost: read the state again). Returns a function that removes it.
   */
  onResubscribed(listener: () => void): () => void;
  /** Whether the subscriber connection is up (messages published now are heard). */
  readonly subscribed: boolean;
  publish(channel: string, message: string): Promise<void>;
  close(): Promise<void>;
}

const CLUSTER_SCHEME = "redis+cluster:";

/** Whether `url` names a Redis Cluster (`redis+cluster://`). */
export function isClusterUrl(url: string): boolean {
  return url.startsWith(`${CLUSTER_SCHEME}//`);
}

/** Retries quickly at first, then every two seconds at most, forever (jittered). */
function reconnectDelay(retries: number): number {
  const base = Math.min(2_000, 50 * 2 ** Math.min(retries, 6));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

type AnyClient = ReturnType<typeof createClient>;
type AnyCluster = ReturnType<typeof createCluster>;

export function createRedisConnection(options: RedisConnectionOptions): RedisConnection {
  const commandTimeoutMs = options.commandTimeoutMs ?? 2_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 2_000;
  const onState = options.onState ?? (() => {});
  const cluster = options.cluster === true || isClusterUrl(options.url);
  const url = isClusterUrl(options.url) ? `redis:${options.url.slice(CLUSTER_SCHEME.length)}` : options.url;
  const clientOptions = {
    disableOfflineQueue: true,
    commandOptions: { timeout: commandTimeoutMs },
    socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: reconnectDelay },
  };

  let client: AnyClient | null = null;
  let clusterClient: AnyCluster | null = null;
  let subscriber: AnyClient | AnyCluster | null = null;
  const resubscribed = new Set<() => void>();
  let subscriberReady = false;

  let created: Promise<void> | null = null;
  const create = (): Promise<void> =>
    (created ??= import("redis").then((redis) => {
      if (cluster) {
        clusterClient = redis.createCluster({ rootNodes: [{ url }], defaults: clientOptions });
        clusterClient.on("error", (error: unknown) => onState(false, error));
        clusterClient.on("node-error", (error: unknown) => onState(false, error));
        clusterClient.on("node-ready", () => onState(true));
      } else {
        client = redis.createClient({ url, ...clientOptions });
        client.on("error", (error: unknown) => onState(false, error));
        client.on("ready", () => onState(true));
      }
    }));

  const send = <T>(key: string | undefined, args: readonly string[]): Promise<T> => {
    if (clusterClient !== null) return clusterClient.sendCommand<T>(key, false, [...args]);
    if (client !== null) return client.sendCommand<T>(args);
    return Promise.reject(new Error("Redis: not connected yet (call connect() first)"));
  };

  return {
    isCluster: cluster,
    get ready() {
      return clusterClient !== null ? clusterClient.isReady : client !== null && client.isReady;
    },
    async connect() {
      await create();
      if (clusterClient !== null) await clusterClient.connect();
      else await client!.connect();
      onState(true);
    },
    command: send,
    async script<T>(script: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<T> {
      const tail = [String(keys.length), ...keys, ...args.map(String)];
      try {
        return await send<T>(keys[0], ["EVALSHA", script.sha, ...tail]);
      } catch (error) {
        // A server that restarted (or a new cluster node) does not know the script yet.
        if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
        return send<T>(keys[0], ["EVAL", script.source, ...tail]);
      }
    },
    async subscribe(channel, listener) {
      if (subscriber === null) {
        await create();
        const duplicate: AnyClient | AnyCluster = clusterClient !== null ? clusterClient.duplicate() : client!.duplicate();
        duplicate.on("error", () => (subscriberReady = false));
        duplicate.on(clusterClient !== null ? "node-reconnecting" : "reconnecting", () => (subscriberReady = false));
        // A "ready" after the first one is a reconnection.
        let connectedOnce = false;
        const ready = (): void => {
          subscriberReady = true;
          if (connectedOnce) for (const listener of resubscribed) listener();
          connectedOnce = true;
        };
        duplicate.on(clusterClient !== null ? "node-ready" : "ready", ready);
        await duplicate.connect();
        subscriberReady = true;
        subscriber = duplicate;
      }
      await subscriber.subscribe(channel, (message: string, name: string) => listener(message, name));
    },
    get subscribed() {
      return subscriber !== null && subscriberReady;
    },
    onResubscribed(listener) {
      resubscribed.add(listener);
      return () => resubscribed.delete(listener);
    },
    async publish(channel, message) {
      await send(undefined, ["PUBLISH", channel, message]);
    },
    async close() {
      const closing: Promise<unknown>[] = [];
      if (subscriber !== null) closing.push(subscriber.close());
      if (clusterClient !== null) closing.push(clusterClient.close());
      if (client !== null) closing.push(client.isOpen ? client.close() : Promise.resolve());
      subscriber = null;
      await Promise.allSettled(closing);
    },
  };
}
