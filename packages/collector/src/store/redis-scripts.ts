import { createHash } from "node:crypto";
import type { LuaScript } from "./redis-connection.js";

/**
 * The Lua scripts of the Redis store. Each touches one shard only (keys under one hash tag; index
 * keys are built from the shard prefix passed as the first argument), so each is atomic on a
 * single Redis and on a Redis Cluster.
 *
 * A session hash holds one `n:<node>` field per node that holds pages of it: the node's JSON
 * contribution `{us, ia, at, lc, rb, cb, pg, ...}` (username, identity change time, write time,
 * last communication, recent bytes, bytes of pages that left that node, open pages as arrays
 * `[id, path, epoch, seq, epochBytes, earlierBytes, openedAt, connectedAt, disconnectedAt]`).
 * Only that node writes its field, so nodes never overwrite each other; the cluster view is
 * their union.
 */

function lua(source: string): LuaScript {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

/** Shared helpers: a contribution's bytes, and the end of a session cluster-wide. */
const HELPERS = `
local function contributionBytes(c, skip)
  local bytes = c.cb
  if type(c.pg) == 'table' then
    for _, p in ipairs(c.pg) do
      if not (skip and skip[p[1]]) then bytes = bytes + p[5] + p[6] end
    end
  end
  return bytes
end
local function foldInto(skey, bytes)
  if bytes > 0 then redis.call('HINCRBY', skey, 'closed', string.format('%d', bytes)) end
end
local function nodesOf(skey, except)
  local fields = redis.call('HGETALL', skey)
  local nodes = {}
  for i = 1, #fields, 2 do
    local f = fields[i]
    if string.sub(f, 1, 2) == 'n:' and f ~= except then nodes[#nodes + 1] = {string.sub(f, 3), fields[i + 1]} end
  end
  return nodes
end
local function endSession(skey, pre, id, nodes, tomb, ttl)
  local project = redis.call('HGET', skey, 'project')
  local user = redis.call('HGET', skey, 'user')
  if user then redis.call('SREM', pre .. 'u:' .. user, id) end
  if project then redis.call('SREM', pre .. 'p:' .. project, id) end
  redis.call('SREM', pre .. 'all', id)
  for _, n in ipairs(nodes) do redis.call('SREM', pre .. 'n:' .. n[1], id) end
  redis.call('DEL', skey)
  redis.call('SET', pre .. 't:' .. id, tomb, 'PX', ttl)
end
`;

/**
 * Writes this node's contribution to a session and re-indexes it.
 * KEYS: session hash. ARGV: shard prefix, id, node, project, createdAt, contribution JSON, changes channel.
 * Returns 0 when the session has a tombstone (ended elsewhere: nothing written), else 1.
 */
export const PUT_SCRIPT = lua(`${HELPERS}
local skey, pre, id, node = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', pre .. 't:' .. id) == 1 then return 0 end
local project = redis.call('HGET', skey, 'project')
if not project then
  project = ARGV[4]
  redis.call('HSET', skey, 'project', project, 'createdAt', ARGV[5])
else
  local created = redis.call('HGET', skey, 'createdAt')
  if (not created) or tonumber(ARGV[5]) < tonumber(created) then redis.call('HSET', skey, 'createdAt', ARGV[5]) end
end
redis.call('HSET', skey, 'n:' .. node, ARGV[6])
-- The username shown is the one of the most recent identity change on any node.
local user, ia, at = nil, -1, -1
for _, n in ipairs(nodesOf(skey, nil)) do
  local c = cjson.decode(n[2])
  if c.ia > ia or (c.ia == ia and c.at > at) then user, ia, at = c.us, c.ia, c.at end
end
local old = redis.call('HGET', skey, 'user')
if old ~= user then
  if old then redis.call('SREM', pre .. 'u:' .. old, id) end
  redis.call('SADD', pre .. 'u:' .. user, id)
  redis.call('HSET', skey, 'user', user)
end
redis.call('SADD', pre .. 'all', id)
redis.call('SADD', pre .. 'p:' .. project, id)
redis.call('SADD', pre .. 'n:' .. node, id)
redis.call('PUBLISH', ARGV[7], id .. '\\t' .. node)
return 1
`);

/**
 * Writes this node's contributions to many sessions of one shard whose counters (bytes, lastComm)
 * changed: one call per shard per flush. A session that ended (tombstone) or is not stored (its
 * `put` did not reach Redis yet) is skipped. Publishes the written ids in one message.
 * KEYS: the shard's `all` set (routes the call). ARGV: shard prefix, node, changes channel, then
 * pairs of id and contribution JSON. Returns the ids that were skipped.
 */
export const COUNTERS_SCRIPT = lua(`
local pre, node = ARGV[1], ARGV[2]
local written, skipped = {}, {}
for i = 4, #ARGV, 2 do
  local id = ARGV[i]
  local skey = pre .. 's:' .. id
  if redis.call('EXISTS', skey) == 1 and redis.call('EXISTS', pre .. 't:' .. id) == 0 then
    redis.call('HSET', skey, 'n:' .. node, ARGV[i + 1])
    written[#written + 1] = id
  else
    skipped[#skipped + 1] = id
  end
end
if #written > 0 then redis.call('PUBLISH', ARGV[3], table.concat(written, ' ') .. '\\t' .. node) end
return skipped
`);

/**
 * This node lets go of a session: its contribution's bytes are folded into `closed`. The session
 * ends cluster-wide (indexes dropped, tombstone written) when no other node holds it, or when it
 * was closed by command.
 * KEYS: session hash. ARGV: shard prefix, id, node, endedAt, reason, tombstone TTL ms, changes
 * channel, this node's final contribution JSON (or '' to use the stored one).
 * Returns 1 when other nodes still hold the session, 2 when it ended.
 */
export const END_SCRIPT = lua(`${HELPERS}
local skey, pre, id, node = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local tomb = cjson.encode({endedAt = tonumber(ARGV[4]), reason = ARGV[5]})
redis.call('SREM', pre .. 'n:' .. node, id)
if redis.call('EXISTS', skey) == 0 then
  if redis.call('EXISTS', pre .. 't:' .. id) == 0 then redis.call('SET', pre .. 't:' .. id, tomb, 'PX', ARGV[6]) end
  return 2
end
local own = ARGV[8]
if own == '' then own = redis.call('HGET', skey, 'n:' .. node) end
if own then
  foldInto(skey, contributionBytes(cjson.decode(own), nil))
  redis.call('HDEL', skey, 'n:' .. node)
end
local others = nodesOf(skey, nil)
if #others > 0 and ARGV[5] ~= 'closed' then
  redis.call('PUBLISH', ARGV[7], id .. '\\t' .. node)
  return 1
end
endSession(skey, pre, id, others, tomb, ARGV[6])
redis.call('PUBLISH', ARGV[7], id .. '\\t' .. node .. '\\t' .. ARGV[5])
return 2
`);

/**
 * Ages out what a dead node (lease gone) held, a batch of its sessions at a time. A contribution
 * whose last communication is older than the page grace period loses its pages (their bytes
 * folded, except pages that another node holds now: their agents resumed there and report them);
 * it is dropped when another node holds the session, or after the session timeout, and the
 * session ends (timeout) when nothing else holds it.
 * KEYS: the dead node's index set of one shard. ARGV: shard prefix, dead node, now, page grace ms,
 * session timeout ms, tombstone TTL ms, changes channel, SSCAN cursor.
 * Returns {next cursor, sessions still indexed for the dead node in this shard}.
 */
export const REAP_SCRIPT = lua(`${HELPERS}
local pre, dead, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local grace, timeout = tonumber(ARGV[4]), tonumber(ARGV[5])
local scan = redis.call('SSCAN', KEYS[1], ARGV[8], 'COUNT', 200)
for _, id in ipairs(scan[2]) do
  local skey = pre .. 's:' .. id
  local raw = redis.call('HGET', skey, 'n:' .. dead)
  if not raw then
    redis.call('SREM', KEYS[1], id)
  else
    local c = cjson.decode(raw)
    if now >= c.lc + grace then
      local others = nodesOf(skey, 'n:' .. dead)
      local elsewhere = {}
      for _, n in ipairs(others) do
        local o = cjson.decode(n[2])
        if type(o.pg) == 'table' then for _, p in ipairs(o.pg) do elsewhere[p[1]] = true end end
      end
      local bytes = contributionBytes(c, elsewhere)
      if #others > 0 or now >= c.lc + grace + timeout then
        foldInto(skey, bytes)
        redis.call('HDEL', skey, 'n:' .. dead)
        redis.call('SREM', KEYS[1], id)
        if #others == 0 then
          endSession(skey, pre, id, others, cjson.encode({endedAt = now, reason = 'timeout'}), ARGV[6])
          redis.call('PUBLISH', ARGV[7], id .. '\\t' .. dead .. '\\ttimeout')
        else
          redis.call('PUBLISH', ARGV[7], id .. '\\t' .. dead)
        end
      elseif type(c.pg) == 'table' and next(c.pg) ~= nil then
        c.cb = bytes
        c.pg = {}
        redis.call('HSET', skey, 'n:' .. dead, cjson.encode(c))
        redis.call('PUBLISH', ARGV[7], id .. '\\t' .. dead)
      end
    end
  end
end
return {scan[1], redis.call('SCARD', KEYS[1])}
`);
