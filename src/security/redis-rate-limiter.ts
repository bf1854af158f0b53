import { NOW } from '../sessions/lua/scripts.js';
import { defineScript, redisGuarded as guarded, type RedisClient } from '../sessions/redis-client.js';
import { retryAfterSeconds, type LimitKey, type RateLimiter } from './rate-limiter.js';

/**
 * KEYS: counters (hashes: c = count, l = locked until, p = the lock before the last hit set l,
 * epoch ms). ARGV: per key max, window,
 * back-off, max back-off (ms). Returns {1} when counted, {0, wait ms, index of the key} when a
 * key is locked (nothing counted). Times come from Redis `TIME`, one clock for every instance.
 * Mirrors `lockMs` in rate-limiter.ts.
 */
const HIT = `${NOW}
local wait, which = 0, 0
for i, key in ipairs(KEYS) do
  local locked = tonumber(redis.call('HGET', key, 'l') or '0') - now
  if locked > wait then wait, which = locked, i end
end
if wait > 0 then return {0, wait, which} end
for i, key in ipairs(KEYS) do
  local max, window = tonumber(ARGV[i * 4 - 3]), tonumber(ARGV[i * 4 - 2])
  local backoff, cap = tonumber(ARGV[i * 4 - 1]), tonumber(ARGV[i * 4])
  local count = redis.call('HINCRBY', key, 'c', 1)
  if count == 1 then redis.call('PEXPIRE', key, window) end
  if count >= max then
    redis.call('HSET', key, 'p', redis.call('HGET', key, 'l') or '0')
    if backoff > 0 then
      local lock = math.min(backoff * 2 ^ math.min(count - max, 40), math.max(cap, backoff))
      redis.call('HSET', key, 'l', now + lock)
      redis.call('PEXPIRE', key, lock + window)
    else
      redis.call('HSET', key, 'l', now + redis.call('PTTL', key))
    end
  end
end
return {1}`;

/**
 * KEYS: counters. ARGV: per key its max. Takes one hit back: a key back under its max is unlocked;
 * one still at or over it gets back the lock it had before that hit (the hit's own doubling is
 * undone: a success behind a shared address must not lock it longer).
 */
const REFUND = `for i, key in ipairs(KEYS) do
  if tonumber(redis.call('HGET', key, 'c') or '0') > 0 then
    if redis.call('HINCRBY', key, 'c', -1) < tonumber(ARGV[i]) then redis.call('HDEL', key, 'l', 'p')
    else redis.call('HSET', key, 'l', redis.call('HGET', key, 'p') or '0') end
  end
end
return 1`;

/**
 * Key layout: `<prefix>{rl:<group>}:<limit>:<subject>`, or `<prefix>{rl:<limit>:<subject>}` for a
 * key without a group. Keys hit together share their group's hash tag, so every script touches
 * one Redis Cluster slot.
 */
export function rateLimitKey(prefix: string, key: LimitKey): string {
  return key.group === undefined ? `${prefix}{rl:${key.limit}:${key.subject}}` : `${prefix}{rl:${key.group}}:${key.limit}:${key.subject}`;
}

/** The shared limiter on the service's Redis connection (`redis` is not closed here: the session store owns it). */
export function createRedisRateLimiter({ redis, prefix }: { redis: RedisClient; prefix: string }) {
  const scripts = { hit: defineScript(redis, 'jwtRateLimitHit', HIT), refund: defineScript(redis, 'jwtRateLimitRefund', REFUND) };
  const names = (keys: readonly LimitKey[]) => {
    const groups = new Set(keys.map((key) => key.group ?? `${key.limit}:${key.subject}`));
    if (groups.size > 1) throw new Error(`keys hit together must share a group, got ${[...groups].join(', ')}`);
    return keys.map((key) => rateLimitKey(prefix, key));
  };

  return {
    async hit(keys) {
      if (keys.length === 0) return { allowed: true };
      const policies = keys.flatMap(({ policy }) => [policy.max, policy.windowMs, policy.backoffMs, policy.maxBackoffMs]);
      const reply = (await guarded(scripts.hit(keys.length, ...names(keys), ...policies))) as number[];
      if (reply[0] === 1) return { allowed: true };
      const limit = keys[Number(reply[2]) - 1]?.limit ?? 'unknown';
      return { allowed: false, retryAfterSeconds: retryAfterSeconds(Number(reply[1])), limit };
    },

    async refund(keys) {
      if (keys.length === 0) return;
      await guarded(scripts.refund(keys.length, ...names(keys), ...keys.map(({ policy }) => policy.max)));
    },

    async reset(key) {
      await guarded(redis.del(rateLimitKey(prefix, key)));
    },
  } satisfies RateLimiter;
}
