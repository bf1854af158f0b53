import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { describe, test, type TestContext } from 'vitest';
import { CleanupStack, tempDir } from '../../scripts/cluster/cleanup.js';
import { redisCli, startRedis } from '../../scripts/cluster/redis.js';
import { configSchema } from '../../src/config/schema.js';
import { closeRedis, connectRedis } from '../../src/sessions/redis-connection.js';
import { createRedisSessionStore } from '../../src/sessions/redis-session-store.js';
import { basePolicy, login } from '../helpers/session-store-contract.js';
import { uniquePrefix } from '../helpers/services.js';

/** A throwaway Redis of the test's own: its command counts are this test's alone. */
async function ownRedis({ onTestFinished }: TestContext) {
  const cleanup = new CleanupStack();
  onTestFinished(() => cleanup.run());
  const server = await startRedis(tempDir(cleanup, 'jwt-authenticate-command-'));
  cleanup.add(() => server.stop());
  /** Script calls and NOSCRIPT refusals so far. */
  const counts = async () => {
    const info = await redisCli(server.port, ['INFO', 'all']);
    const count = (pattern: RegExp) => Number(pattern.exec(info)?.[1] ?? 0);
    return { evalsha: count(/^cmdstat_evalsha:calls=(\d+)/m), eval: count(/^cmdstat_eval:calls=(\d+)/m), noscript: count(/^errorstat_NOSCRIPT:count=(\d+)/m) };
  };
  return { server, counts };
}

/** A session store under `prefix` on a client made as the service makes it (timeouts, no offline queue, no resending). */
async function openStore({ onTestFinished }: TestContext, url: string, prefix: string) {
  const { cache } = configSchema.parse({ cache: { url } });
  const redis = await connectRedis(cache, { logger: pino({ level: 'silent' }) });
  const store = createRedisSessionStore({ redis, prefix, policy: basePolicy });
  onTestFinished(async () => {
    await store.close();
    await closeRedis(redis);
  });
  return store;
}

/** `/authenticate`'s checks go to Redis as one EVALSHA per batch, its RESP joined by the store (authenticate-command.ts). */
describe('the authenticate command', () => {
  test('a batch is one EVALSHA, with ASCII and multi-byte keys and jtis alike, reading the keys the other scripts wrote', async (ctx) => {
    const { expect } = ctx;
    const { server, counts } = await ownRedis(ctx);
    for (const prefix of [uniquePrefix(), `${uniquePrefix()}ключ-é:`]) {
      const store = await openStore(ctx, server.url, prefix);
      const [first, second] = await Promise.all([login(store), login(store)]);
      const denied = `jtí-${randomUUID()}-ü`;
      expect(await store.deny(first.userId, first.sessionId, denied, 60_000)).toBe('denied');
      expect(await first.authenticate()).toBe('ok'); // the script loaded (EVAL on a server without it)
      const before = await counts();

      // Asked together: one batch.
      const answers = await Promise.all([
        first.authenticate(undefined, denied),
        first.authenticate(undefined, `jtï-${randomUUID()}`),
        second.authenticate(),
        second.authenticate(second.grant.tokenVersion + 1, `ß-${randomUUID()}`),
        store.authenticate({ userId: randomUUID(), sessionId: first.sessionId, jti: '🔑\r\n\0', tokenVersion: 0 }),
        store.authenticate({ ...second, jti: '\ud800', tokenVersion: second.grant.tokenVersion }),
      ]);
      expect(answers).toEqual(['denied', 'ok', 'ok', 'stale_version', 'no_session', 'ok']);
      expect(await counts()).toEqual({ ...before, evalsha: before.evalsha + 1 });
    }
  });

  test('checks are answered after Redis lost its scripts (a restart, a failover, SCRIPT FLUSH): one EVAL more, once', async (ctx) => {
    const { expect } = ctx;
    const { server, counts } = await ownRedis(ctx);
    const store = await openStore(ctx, server.url, uniquePrefix());
    const session = await login(store);
    // A fresh server holds no script: the first batch loads it.
    const fresh = await counts();
    expect(await Promise.all([session.authenticate(), session.authenticate(session.grant.tokenVersion + 1)])).toEqual(['ok', 'stale_version']);
    expect(await counts()).toEqual({ evalsha: fresh.evalsha + 1, eval: fresh.eval + 1, noscript: fresh.noscript + 1 });

    await redisCli(server.port, ['SCRIPT', 'FLUSH']);
    const flushed = await counts();
    const unknownSession = { ...session, sessionId: randomUUID(), jti: 'x', tokenVersion: 0 };
    expect(await Promise.all([session.authenticate(), session.authenticate(), store.authenticate(unknownSession)])).toEqual(['ok', 'ok', 'no_session']);
    expect(await session.authenticate()).toBe('ok');
    expect(await counts()).toEqual({ evalsha: flushed.evalsha + 2, eval: flushed.eval + 1, noscript: flushed.noscript + 1 });
  });
});
