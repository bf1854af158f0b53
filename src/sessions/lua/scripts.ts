/**
 * The Lua scripts behind the Redis session store. Each runs atomically and touches
 * only keys of one user (hash tag `{uid}`), so each stays in one Redis Cluster slot.
 * Times come from Redis `TIME`, one clock for every instance.
 *
 * Session hash fields: gen (refresh generation), salt, rot (last rotation, ms),
 * tv (token version at creation), roles (JSON), created, seen (last activity),
 * abs (absolute expiry), device, ua, ip, d:<jti> (a denied access token), dn (how many), moved (the generation a
 * password change moved the session to). The key's TTL is min(seen + auto_logout, abs): a session exists only while valid.
 */

/**
 * Revoking scripts end with two more ARGV: the revocation channel and the user id (the batched
 * `rotate` carries the channel once and a user id per rotation). Instances caching revocation
 * state (`cache.revocation: cached`) drop that user's entries on the message. `endSession`
 * announces only a session it ended or a jti it denied, and `deny` only a jti not denied before:
 * a replay, which anyone may send with a token of their own, changes no answer, and each message
 * makes every instance drop answers. (A jti denied anew for a session already gone is announced:
 * the session may have gone unannounced, evicted, while an instance still holds its answer.) A
 * retry whose first run's message was lost with its reply is then silent too: on one server a
 * subscriber gets every message a run published or loses its connection (and empties its cache),
 * and on a Cluster, whose bus carries the messages, a lost path stops the heartbeats and empties
 * the caches.
 */
const PUBLISH = `redis.call('PUBLISH', ARGV[#ARGV - 1], ARGV[#ARGV])`;

/**
 * The first line of every script that revokes (Redis 7's script flags). Redis at `maxmemory`
 * under `noeviction` refuses a write that may grow memory, unless the script says `allow-oom`:
 * a revocation must hold when Redis is full, while logins and refreshes are refused. What these
 * scripts add is bounded: a token version, a denied jti per revoked token (a session holds at
 * most MAX_DENIED_PER_SESSION), a kept session's fields; most of them free memory.
 */
const REVOKES = '#!lua flags=allow-oom\n';

/** Ends every session in the session set `set` but ARGV[2]'s (ARGV[1]: the session key prefix). */
const endAllBut = (set: string) => `for _, id in ipairs(redis.call('ZRANGE', ${set}, 0, -1)) do
  if id ~= ARGV[2] then
    redis.call('DEL', ARGV[1] .. id)
    redis.call('ZREM', ${set}, id)
  end
end`;

/** Lua: `now`, Redis's clock in epoch ms (one clock for every instance). */
export const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * KEYS: session, session-set, tv, [pending evictions]. ARGV: sid, salt, refresh lifetime, idle
 * window, max sessions, session key prefix, device, ua, ip, roles, +revocation. Returns {tv,
 * expires at, {ids of the sessions evicted}}; with the pending-evictions set (replicated
 * revocations), the evicted ids join it and every id in it is returned, until acknowledged.
 */
export const createSession = `${NOW}
local tv = tonumber(redis.call('GET', KEYS[3]) or '0')
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('EXISTS', ARGV[6] .. id) == 0 then redis.call('ZREM', KEYS[2], id) end
end
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5]) + 1
local evicted = {}
if excess > 0 then
  evicted = redis.call('ZRANGE', KEYS[2], 0, excess - 1)
  for _, id in ipairs(evicted) do redis.call('DEL', ARGV[6] .. id) end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
  ${PUBLISH}
end
if KEYS[4] then
  for _, id in ipairs(evicted) do redis.call('SADD', KEYS[4], id) end
  evicted = redis.call('SMEMBERS', KEYS[4])
  if #evicted > 0 then redis.call('PEXPIRE', KEYS[4], ARGV[3]) end
end
local abs = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'gen', 0, 'salt', ARGV[2], 'rot', 0, 'tv', tv, 'created', now, 'seen', now, 'abs', abs,
  'device', ARGV[7], 'ua', ARGV[8], 'ip', ARGV[9], 'roles', ARGV[10])
local expires = math.min(abs, now + tonumber(ARGV[4]))
redis.call('PEXPIREAT', KEYS[1], expires)
redis.call('ZADD', KEYS[2], now, ARGV[1])
-- The set lives as long as its longest session: a shorter refresh lifetime (a config change) never shortens it.
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return {tv, expires, evicted}`;

/**
 * A batch of `/authenticate` checks in one call (requests that arrived together share a round
 * trip, up to 16 a call). KEYS: per check session, tv, deny(jti). ARGV: activity throttle, idle window, then per
 * check token tv, jti. Returns per check -1 no session, -2 stale version, -3 denied, or — valid —
 * the ms left until the session ends (relative: instance clocks need not agree with Redis's).
 * The token's tv must equal the session's, and the session's the user's (DESIGN: claims.tv == tv;
 * a session is never ahead of its user but when the user's tv key was lost, which logs it out). A
 * jti is denied by its own key or by a `d:<jti>` field of the session (which outlasts the token:
 * see deny; so losing the deny key alone can never revive it). Read-only but for
 * the throttled activity write (at most once per throttle per session), which Redis may refuse
 * when full without failing the checks.
 */
export const authenticate = `${NOW}
local throttle, idle = tonumber(ARGV[1]), tonumber(ARGV[2])
local function check(ks, ktv, kd, token_tv, jti)
  if redis.call('EXISTS', kd) == 1 then return -3 end
  local s = redis.call('HMGET', ks, 'tv', 'seen', 'abs', 'd:' .. jti)
  if not s[1] then return -1 end
  if s[4] then return -3 end
  local tv = tonumber(redis.call('GET', ktv) or '0')
  local session_tv = tonumber(s[1])
  if tonumber(token_tv) ~= session_tv or session_tv ~= tv then return -2 end
  local seen, abs = tonumber(s[2]), tonumber(s[3])
  if now - seen >= throttle then
    local wrote = redis.pcall('HSET', ks, 'seen', now)
    if type(wrote) == 'number' then
      seen = now
      redis.call('PEXPIREAT', ks, math.min(abs, now + idle))
    -- Redis full (maxmemory under noeviction): the window stays where it was; the check is
    -- complete, and the session may end idle sooner, never later. Any other refusal (a replica,
    -- MISCONF, an ACL) fails the call, as it would have without pcall.
    elseif string.sub(wrote.err, 1, 3) ~= 'OOM' then
      error(wrote)
    end
  end
  return math.max(math.min(abs, seen + idle) - now, 0)
end
local out = {}
for i = 1, #KEYS / 3 do
  out[i] = check(KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i], ARGV[1 + 2 * i], ARGV[2 + 2 * i])
end
return out`;

/**
 * A batch of refresh-token rotations in one call (refreshes that arrived together share one round
 * trip; on a Cluster the batch holds one user's). KEYS: per rotation session, tv, session-set.
 * ARGV: grace, idle window, revocation channel, then per rotation token generation, salt, sid,
 * user id. Returns per rotation {'rotated' | 'replayed', gen, session tv, roles, expires at} |
 * {'reused'} | {'superseded'} | {'invalid'} | {'error'}. Rotations of one batch run in order, as separate calls would;
 * one that fails (a session hash missing a field) fails alone, not the batch. A generation older
 * than the one endOthers moved the session to ('moved': a password change) is 'superseded', not
 * reuse: a refresh in flight during the change must not end the session the change kept.
 */
export const rotate = `${NOW}
local grace, idle, channel = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local function end_family(ks, kset, sid, uid)
  redis.call('DEL', ks)
  redis.call('ZREM', kset, sid)
  redis.call('PUBLISH', channel, uid)
end
local function rotate(ks, ktv, kset, presented, salt, sid, uid)
  local s = redis.call('HMGET', ks, 'gen', 'salt', 'rot', 'tv', 'abs', 'roles', 'moved')
  if not s[1] or s[2] ~= salt then return {'invalid'} end
  local tv = tonumber(redis.call('GET', ktv) or '0')
  if tonumber(s[4]) ~= tv then
    end_family(ks, kset, sid, uid)
    return {'invalid'}
  end
  if presented < tonumber(s[7] or '0') then return {'superseded'} end
  local current = tonumber(s[1])
  local outcome
  if presented == current then
    current = current + 1
    redis.call('HSET', ks, 'gen', current, 'rot', now, 'seen', now)
    outcome = 'rotated'
  elseif presented == current - 1 and now - tonumber(s[3]) <= grace then
    redis.call('HSET', ks, 'seen', now)
    outcome = 'replayed'
  else
    end_family(ks, kset, sid, uid)
    return {'reused'}
  end
  local expires = math.min(tonumber(s[5]), now + idle)
  redis.call('PEXPIREAT', ks, expires)
  return {outcome, current, tonumber(s[4]), s[6], expires}
end
local out = {}
for i = 1, #KEYS / 3 do
  local ok, result = pcall(rotate, KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i], tonumber(ARGV[4 * i]), ARGV[4 * i + 1], ARGV[4 * i + 2], ARGV[4 * i + 3])
  out[i] = ok and result or {'error'}
end
return out`;

/**
 * KEYS: session, session-set[, deny(jti)]. ARGV: sid, deny ttl (0: none), token version ('': end
 * unconditionally), jti, refresh-token generation ('': none), +revocation. With a token version (a
 * logout with that access token), a live session of another version, or one that denies the jti,
 * is left as it is: returns -1. With a generation (a logout with that refresh token), so is a
 * session a password change moved past it ('moved'), as rotate refuses such a token. Otherwise
 * returns 1 if the session existed, 0 if not. A jti denied already keeps its longer expiry.
 */
export const endSession = `${REVOKES}if ARGV[3] ~= '' then
  local s = redis.call('HMGET', KEYS[1], 'tv', 'd:' .. ARGV[4])
  if s[1] and (tonumber(s[1]) ~= tonumber(ARGV[3]) or s[2] or (KEYS[3] and redis.call('EXISTS', KEYS[3]) == 1)) then return -1 end
end
if ARGV[5] ~= '' and tonumber(ARGV[5]) < tonumber(redis.call('HGET', KEYS[1], 'moved') or '0') then return -1 end
local existed = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local denied = KEYS[3] and redis.call('SET', KEYS[3], '1', 'PX', ARGV[2], 'NX')
if KEYS[3] and not denied then redis.call('PEXPIRE', KEYS[3], ARGV[2], 'GT') end
if existed == 1 or denied then ${PUBLISH} end
return existed`;

/**
 * KEYS: deny(jti), session, session-set. ARGV: ttl, jti, sid, most denied per session,
 * +revocation. Denies in both places (see authenticate). The session's field holds until when it
 * may go (ms): twice the denial's own length, so that it outlasts the deny key by at least the
 * clock tolerance the ttl includes, for an instance whose clock is behind (a repeated denial only
 * ever moves that later). A session that would hold more than the most drops the fields past that
 * time (one written before they held a time, `1`, is kept), then ends if it still holds over 7/8
 * of the most (a revocation that covers them all; and no scan of the whole hash at every
 * denial), so that refresh + revoke in a loop cannot grow one hash without bound. Returns 1 if
 * the jti was not denied yet, 0 if it already was, 2 if its session ended instead.
 */
export const deny = `${REVOKES}local new = redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX')
local reply = new and 1 or 0
if redis.call('EXISTS', KEYS[2]) == 1 then
  ${NOW}
  local most, field, ends_at = tonumber(ARGV[4]), 'd:' .. ARGV[2], now + 2 * tonumber(ARGV[1])
  if new and redis.call('HINCRBY', KEYS[2], 'dn', 1) > most then
    local held = 0
    local fields = redis.call('HGETALL', KEYS[2])
    for i = 1, #fields, 2 do
      if string.sub(fields[i], 1, 2) == 'd:' then
        local ends = tonumber(fields[i + 1])
        if ends and ends > 1e12 and ends <= now then redis.call('HDEL', KEYS[2], fields[i]) else held = held + 1 end
      end
    end
    if held > most - math.floor(most / 8) then
      redis.call('DEL', KEYS[2])
      redis.call('ZREM', KEYS[3], ARGV[3])
      reply = 2
    else
      redis.call('HSET', KEYS[2], field, ends_at, 'dn', held + 1)
    end
  else
    local held_until = tonumber(redis.call('HGET', KEYS[2], field) or '0') or 0
    if held_until < ends_at then redis.call('HSET', KEYS[2], field, ends_at) end
  end
end
if new then ${PUBLISH} end
return reply`;

/** KEYS: tv, session-set. ARGV: session key prefix, +revocation. Returns the new token version. */
export const endAll = `${REVOKES}local tv = redis.call('INCR', KEYS[1])
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do redis.call('DEL', ARGV[1] .. id) end
redis.call('DEL', KEYS[2])
${PUBLISH}
return tv`;

/**
 * Lua: `live`, whether session `ks` exists at its user's token version (key `ktv`). A session of an
 * older version was revoked (a logout-all that missed it: its session set lost, say to a
 * volatile-* eviction), and must stay so: a password change never keeps it.
 */
const liveAtVersion = (ks: string, ktv: string) => `local kept_tv = redis.call('HGET', ${ks}, 'tv')
local live = kept_tv and tonumber(kept_tv) == tonumber(redis.call('GET', ${ktv}) or '0')`;

/**
 * KEYS: session-set, kept session, tv. ARGV: session key prefix, kept sid, +revocation. Ends every
 * session but the kept one, which keeps its version, generation and tokens. Returns 1, or 0 and
 * changes nothing when the kept session no longer exists or is of an older token version.
 */
export const endOthersKeepingTokens = `${REVOKES}${liveAtVersion('KEYS[2]', 'KEYS[3]')}
if not live then return 0 end
${endAllBut('KEYS[1]')}
${PUBLISH}
return 1`;

/**
 * KEYS: tv, session-set, kept session. ARGV: session key prefix, kept sid, idle window, roles
 * (JSON), +revocation. The kept session counts as active and goes on with those roles. Returns
 * {tv, gen, salt, roles, expires at}, or {} and changes nothing when the kept session no longer
 * exists or is of an older token version (a request of a revoked session).
 */
export const endOthers = `${REVOKES}${liveAtVersion('KEYS[3]', 'KEYS[1]')}
if not live then return {} end
local tv = redis.call('INCR', KEYS[1])
${PUBLISH}
${endAllBut('KEYS[2]')}
${NOW}
local gen = redis.call('HINCRBY', KEYS[3], 'gen', 1)
redis.call('HSET', KEYS[3], 'tv', tv, 'rot', 0, 'seen', now, 'moved', gen, 'roles', ARGV[4])
local s = redis.call('HMGET', KEYS[3], 'salt', 'roles', 'abs')
local expires = math.min(tonumber(s[3]), now + tonumber(ARGV[3]))
redis.call('PEXPIREAT', KEYS[3], expires)
return {tv, gen, s[1], s[2], expires}`;

/** KEYS: mark. ARGV: ttl. The write a replicated revocation's WAIT answers for (see ReplicatedRevocations). */
export const acknowledgementMark = `${REVOKES}redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])`;

/**
 * KEYS: session-set. ARGV: session key prefix, idle window. Returns rows {sid, created, seen, abs, device, ua, ip,
 * expires at}, newest first; expires at is min(seen + idle window, abs), the deadline every write sets as the TTL.
 */
export const listSessions = `local out = {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, -1)) do
  local key = ARGV[1] .. id
  local s = redis.call('HMGET', key, 'created', 'seen', 'abs', 'device', 'ua', 'ip')
  if s[1] then
    local expires = math.min(tonumber(s[3]), tonumber(s[2]) + tonumber(ARGV[2]))
    table.insert(out, {id, s[1], s[2], s[3], s[4], s[5], s[6], expires})
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out`;
