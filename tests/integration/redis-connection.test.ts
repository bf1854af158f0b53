import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, test, type TestContext } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { closeRedis, createRedis } from '../../src/sessions/redis-connection.js';
import { testRedisUrl } from '../helpers/services.js';

/** A connected client made as the service makes it. */
async function serviceClient({ onTestFinished }: TestContext): Promise<Redis> {
  const { cache } = configSchema.parse({ cache: { url: testRedisUrl() } });
  const redis = createRedis(cache, { logger: pino({ level: 'silent' }) }) as Redis;
  onTestFinished(() => closeRedis(redis, { hard: true }));
  await redis.connect();
  return redis;
}

/**
 * Cuts the client's next connection attempt short, as ioredis's Sentinel failover detector does
 * when `+switch-master` arrives while the client is reconnecting: ioredis then gives up for good
 * (status `end`). ioredis announces `connecting` a tick before its connector checks whether it
 * is still wanted, so a disconnect from that event lands in between.
 */
function cutNextAttemptShort(redis: Redis) {
  const connector = (redis as unknown as { connector: { disconnect(): void } }).connector;
  redis.once('connecting', () => connector.disconnect());
}

describe.concurrent('Redis connection', () => {
  test('a client whose reconnection was cut short (ioredis gave up: end) connects again by itself', async (ctx) => {
    const redis = await serviceClient(ctx);
    const statuses: string[] = [];
    redis.on('end', () => statuses.push('end'));
    cutNextAttemptShort(redis);
    redis.disconnect(true);
    await ctx.expect.poll(() => statuses, { timeout: 3_000 }).toContain('end');
    await ctx.expect.poll(() => redis.status, { timeout: 5_000 }).toBe('ready');
    ctx.expect(await redis.ping()).toBe('PONG');
  });

  test('a client closed on purpose stays closed', async (ctx) => {
    const redis = await serviceClient(ctx);
    await closeRedis(redis);
    await ctx.expect.poll(() => redis.status, { timeout: 3_000 }).toBe('end');
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    ctx.expect(redis.status).toBe('end');
  });
});
