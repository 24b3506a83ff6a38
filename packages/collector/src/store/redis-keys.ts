/**
 * Where the Redis store keeps things. Sessions are spread over a fixed number of shards; every key
 * of one shard carries the same hash tag (`{N}`), so a Lua script that touches a session, its
 * indexes and its tombstone stays within one hash slot — on a single Redis and on a Redis Cluster
 * alike. A query reads the index of each shard: a constant number of commands plus its matches.
 *
 * Layout under the prefix `P` (default `sessionlens:`), shard `N`:
 *
 * | key | type | holds |
 * | --- | --- | --- |
 * | `P{N}:s:<id>` | hash | `project`, `createdAt`, `user` (merged username), `closed` (bytes of pages that left nodes that let go of the session), `n:<node>` (JSON: what that node holds of the session) |
 * | `P{N}:t:<id>` | string, PX | tombstone `{endedAt, reason}` of an ended session |
 * | `P{N}:all` | set | ids of the shard's sessions |
 * | `P{N}:u:<username>` / `P{N}:p:<project>` | set | ids by username / project |
 * | `P{N}:n:<node>` | set | ids of the sessions a node holds something of |
 * | `P lease:<node>` | string, PX | the node is alive while it exists |
 * | `P nodes` | set | node ids that may hold something |
 * | `P changes` | pub/sub channel | `<id>[ <id>...]\t<node>[\t<end reason>]`: sessions a node wrote (or ended) |
 * | `P commands` | pub/sub channel | JSON commands (close a session or page, a message) for the node holding the page |
 */

/** Shards of the key space. Part of the layout: every node of one cluster must use the same. */
export const SHARDS = 16;

/** FNV-1a of the id, modulo the shard count. */
export function shardOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % SHARDS;
}

export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** The prefix of every key of a shard (ends with `:`); Lua builds index keys from it. */
  shard(shard: number): string {
    return `${this.prefix}{${shard}}:`;
  }

  shardOfId(id: string): string {
    return this.shard(shardOf(id));
  }

  session(id: string): string {
    return `${this.shardOfId(id)}s:${id}`;
  }

  tombstone(id: string): string {
    return `${this.shardOfId(id)}t:${id}`;
  }

  all(shard: number): string {
    return `${this.shard(shard)}all`;
  }

  byUsername(shard: number, username: string): string {
    return `${this.shard(shard)}u:${username}`;
  }

  byProject(shard: number, project: string): string {
    return `${this.shard(shard)}p:${project}`;
  }

  byNode(shard: number, node: string): string {
    return `${this.shard(shard)}n:${node}`;
  }

  lease(node: string): string {
    return `${this.prefix}lease:${node}`;
  }

  get nodes(): string {
    return `${this.prefix}nodes`;
  }

  get changes(): string {
    return `${this.prefix}changes`;
  }

  get commands(): string {
    return `${this.prefix}commands`;
  }
}
