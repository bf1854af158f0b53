import { Redis } from 'ioredis';
import { describe, test, type TestContext } from 'vitest';
import { createMemoryRateLimiter } from '../../src/security/memory-rate-limiter.js';
import { createRedisRateLimiter, rateLimitKey } from '../../src/security/redis-rate-limiter.js';
import { limitKey, rateLimiterContract } from '../helpers/rate-limiter-contract.js';
import { testRedisUrl, uniquePrefix } from '../helpers/services.js';

/** A limiter on a fresh key prefix, with a client the way the service uses it (no offline queue), and an inspector. */
async function openRedisLimiter() {
  const prefix = uniquePrefix();
  const redis = new Redis(testRedisUrl(), { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  await redis.connect();
  const limiter = createRedisRateLimiter({ redis, prefix });
  const cleanup = async () => {
    const keys: string[] = [];
    for await (const batch of redis.scanStream({ match: `${prefix}*`, count: 200 })) keys.push(...(batch as string[]));
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  };
  return { limiter, redis, prefix, cleanup };
}

rateLimiterContract('Redis', openRedisLimiter);
rateLimiterContract('memory', async () => ({ limiter: createMemoryRateLimiter(), cleanup: async () => {} }));

describe.concurrent('Redis rate limiter keys', () => {
  async function setup({ onTestFinished }: TestContext) {
    const opened = await openRedisLimiter();
    onTestFinished(opened.cleanup);
    return opened;
  }

  test('keys carry their group as hash tag (one Cluster slot per script), or a tag of their own', async (ctx) => {
    const { prefix } = await setup(ctx);
    const grouped = limitKey({}, 'login_ip', 'login');
    ctx.expect(rateLimitKey(prefix, grouped)).toBe(`${prefix}{rl:login}:login_ip:${grouped.subject}`);
    const alone = { ...limitKey({}, 'refresh_ip'), group: undefined };
    ctx.expect(rateLimitKey(prefix, alone)).toBe(`${prefix}{rl:refresh_ip:${alone.subject}}`);
  });

  test('keys of different groups are never hit together', async (ctx) => {
    const { limiter } = await setup(ctx);
    await ctx.expect(limiter.hit([limitKey({}, 'a', 'one'), limitKey({}, 'b', 'two')])).rejects.toThrow(/share a group/);
  });

  test('a counter lives a window, or a window past its lock', async (ctx) => {
    const { limiter, redis, prefix } = await setup(ctx);
    const plain = limitKey({ max: 5, windowMs: 20_000 });
    await limiter.hit([plain]);
    const plainTtl = await redis.pttl(rateLimitKey(prefix, plain));
    ctx.expect(plainTtl).toBeGreaterThan(19_000);
    ctx.expect(plainTtl).toBeLessThanOrEqual(20_000);
    const locked = limitKey({ max: 1, windowMs: 20_000, backoffMs: 30_000, maxBackoffMs: 30_000 });
    await limiter.hit([locked]);
    const lockedTtl = await redis.pttl(rateLimitKey(prefix, locked));
    ctx.expect(lockedTtl).toBeGreaterThan(49_000);
    ctx.expect(lockedTtl).toBeLessThanOrEqual(50_000);
  });

  test('Redis unreachable: a 503 (UnavailableError), never an allowed hit', async (ctx) => {
    const closed = new Redis(testRedisUrl(), { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const limiter = createRedisRateLimiter({ redis: closed, prefix: uniquePrefix() });
    await ctx.expect(limiter.hit([limitKey()])).rejects.toMatchObject({ code: 'unavailable' });
    closed.disconnect();
  });
});
