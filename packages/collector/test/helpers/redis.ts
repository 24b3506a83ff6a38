import { createRedisConnection, type RedisConnection } from "../../src/store/redis-connection.js";
import { RedisPersistence, type RedisStoreOptions } from "../../src/store/redis.js";

/** Deletes every key under `prefix` on a single Redis (SCAN + UNLINK), so the shared server stays clean. */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const connection = createRedisConnection({ url });
  await connection.connect();
  try {
    let cursor = "0";
    do {
      const [next, keys] = await connection.command<[string, string[]]>(undefined, ["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "1000"]);
      cursor = next;
      if (keys.length > 0) await connection.command(undefined, ["UNLINK", ...keys]);
    } while (cursor !== "0");
  } finally {
    await connection.close();
  }
}

/** A Redis store for a test: its own prefix, the test's node id and clock. */
export function testRedisStore(url: string, prefix: string, options: Partial<RedisStoreOptions> & { nodeId: string }): RedisPersistence {
  return new RedisPersistence({ url, prefix, flushIntervalMs: 50, leaseTtlMs: 1_000, ...options });
}

export type { RedisConnection };
