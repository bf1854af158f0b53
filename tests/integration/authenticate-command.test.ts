import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, test, type TestContext } from 'vitest';
import { CleanupStack, tempDir } from '../../scripts/cluster/cleanup.js';
import { redisCli, startRedis } from '../../scripts/cluster/redis.js';
import { createRedisSessionStore } from '../../src/sessions/redis-session-store.js';
import { basePolicy, login } from '../helpers/session-store-contract.js';
import { testRedisUrl, uniquePrefix } from '../helpers/services.js';

/** A Redis store on `url` under `prefix`, closed (and its keys left to the server's end or the prefix) when the test ends. */
async function openStore({ onTestFinished }: TestContext, url: string, prefix: string) {
  const redis = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  await redis.connect();
  const store = createRedisSessionStore({ redis, prefix, policy: basePolicy });
  onTestFinished(() => store.close());
  return store;
}

/** The `/authenticate` checks go to Redis as RESP the store writes itself (authenticate-command.ts). */
describe('the authenticate command', () => {
  test('a batch under a key prefix and with jtis of multi-byte characters reads the keys the scripts wrote', async (ctx) => {
    const { expect } = ctx;
    const prefix = `${uniquePrefix()}ключ-é:`;
    const store = await openStore(ctx, testRedisUrl(), prefix);
    const inspector = new Redis(testRedisUrl());
    ctx.onTestFinished(async () => {
      const keys = await inspector.keys(`${prefix}*`);
      if (keys.length > 0) await inspector.del(...keys);
      await inspector.quit();
    });
    const [first, second] = await Promise.all([login(store), login(store)]);
    const denied = `jtí-${randomUUID()}-ü`;
    expect(await store.deny(first.userId, first.sessionId, denied, 60_000)).toBe('denied');
    expect(await inspector.exists(`${prefix}{${first.userId}}:d:${denied}`)).toBe(1);

    // Asked together: one batch, ASCII and multi-byte arguments side by side.
    const answers = await Promise.all([
      first.authenticate(undefined, denied),
      first.authenticate(undefined, `jtï-${randomUUID()}`),
      second.authenticate(),
      second.authenticate(second.grant.tokenVersion + 1, `ß-${randomUUID()}`),
      store.authenticate({ userId: randomUUID(), sessionId: first.sessionId, jti: '🔑', tokenVersion: 0 }),
    ]);
    expect(answers).toEqual(['denied', 'ok', 'ok', 'stale_version', 'no_session']);
  });

  test('checks are answered after Redis lost its scripts (a restart, a failover, SCRIPT FLUSH)', async (ctx) => {
    const { expect } = ctx;
    const cleanup = new CleanupStack();
    ctx.onTestFinished(() => cleanup.run());
    const server = await startRedis(tempDir(cleanup, 'jwt-noscript-'));
    cleanup.add(() => server.stop());
    const store = await openStore(ctx, server.url, uniquePrefix());
    const session = await login(store);
    // A fresh server holds no script: the first checks load it.
    expect(await Promise.all([session.authenticate(), session.authenticate(session.grant.tokenVersion + 1)])).toEqual(['ok', 'stale_version']);
    await redisCli(server.port, ['SCRIPT', 'FLUSH']);
    expect(await Promise.all([session.authenticate(), session.authenticate(), store.authenticate({ ...session, sessionId: randomUUID(), jti: 'x', tokenVersion: 0 })])).toEqual([
      'ok',
      'ok',
      'no_session',
    ]);
    expect(await session.authenticate()).toBe('ok');
  });
});
