import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, test, type TestContext } from 'vitest';
import { pino } from 'pino';
import { UnavailableError } from '../../src/errors.js';
import { createCachedRevocationStore } from '../../src/sessions/cached-revocation-store.js';
import { createMemorySessionStore } from '../../src/sessions/memory-session-store.js';
import { redisKeys } from '../../src/sessions/redis-keys.js';
import { createRedisSessionStore } from '../../src/sessions/redis-session-store.js';
import type { SessionPolicy } from '../../src/sessions/session-store.js';
import { basePolicy, login, loginMany, sessionStoreContract } from '../helpers/session-store-contract.js';
import { testRedisUrl, uniquePrefix } from '../helpers/services.js';

/** A connected client the way the service uses it: no offline queue, so an outage fails fast. */
async function connectRedis(db = 0) {
  const redis = new Redis(testRedisUrl(), { db, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  await redis.connect();
  return redis;
}

async function scanKeys(redis: Redis, prefix: string) {
  const keys: string[] = [];
  for await (const batch of redis.scanStream({ match: `${prefix}*`, count: 200 })) keys.push(...(batch as string[]));
  return keys;
}

async function deleteKeys(redis: Redis, prefix: string) {
  const keys = await scanKeys(redis, prefix);
  if (keys.length > 0) await redis.del(...keys);
}

/** A Redis store under a fresh key prefix, plus a second raw client to inspect its keys. */
async function openRedisStore(policy: SessionPolicy) {
  const prefix = uniquePrefix();
  const [redis, inspector] = await Promise.all([connectRedis(), connectRedis()]);
  const store = createRedisSessionStore({ redis, prefix, policy });
  const cleanup = async () => {
    await deleteKeys(inspector, prefix);
    await Promise.all([store.close(), inspector.quit()]);
  };
  return { store, prefix, inspector, cleanup };
}

sessionStoreContract('Redis', openRedisStore);

sessionStoreContract('Redis, cached revocation', async (policy) => {
  const opened = await openRedisStore(policy);
  const subscriber = new Redis(testRedisUrl(), { lazyConnect: true, autoResubscribe: false });
  const store = createCachedRevocationStore({
    store: opened.store,
    subscriber,
    channel: redisKeys(opened.prefix).revocationChannel,
    maxAgeMs: 10_000,
    maxEntries: 1000,
    logger: pino({ level: 'silent' }),
    // Every answer the contract reads before a revocation is then a cached one.
    rememberFrom: 'first-read',
  });
  await subscriber.connect();
  // Live before the contract starts (a heartbeat turns it on): its answers are then cached ones.
  await expect.poll(() => store.isLive(), { timeout: 5_000 }).toBe(true);
  return {
    store,
    // The store's own close stops its heartbeat and subscription, then closes the inner store.
    cleanup: async () => {
      await deleteKeys(opened.inspector, opened.prefix);
      await Promise.all([store.close(), opened.inspector.quit()]);
    },
  };
});

sessionStoreContract('memory', async (policy) => {
  const store = createMemorySessionStore({ policy });
  return { store, cleanup: () => store.close() };
});

describe.concurrent('Redis session store keys', () => {
  async function setup({ onTestFinished }: TestContext) {
    const opened = await openRedisStore(basePolicy);
    onTestFinished(opened.cleanup);
    return opened;
  }

  test('every key carries the user’s {userId} hash tag', async (ctx) => {
    const { store, prefix, inspector } = await setup(ctx);
    const userId = randomUUID();
    const [session] = await loginMany(store, userId, 2);
    if (!session) throw new Error('session missing');
    await store.deny(userId, session.sessionId, randomUUID(), 60_000);
    await store.endOthers(userId, session.sessionId, ['user']);
    const keys = await scanKeys(inspector, prefix);
    const kinds = keys.map((key) => key.slice(`${prefix}{${userId}}:`.length).replace(/:.*$/, ''));
    ctx.expect(keys.every((key) => key.startsWith(`${prefix}{${userId}}:`))).toBe(true);
    ctx.expect(new Set(kinds)).toEqual(new Set(['s', 'ss', 'tv', 'd']));
  });

  test('session, session-set and deny keys have TTLs', async (ctx) => {
    const { store, prefix, inspector } = await setup(ctx);
    const session = await login(store);
    const jti = randomUUID();
    await store.deny(session.userId, session.sessionId, jti, 5_000);
    const tag = `${prefix}{${session.userId}}:`;
    const sessionTtl = await inspector.pttl(`${tag}s:${session.sessionId}`);
    ctx.expect(sessionTtl).toBeGreaterThan(0);
    ctx.expect(sessionTtl).toBeLessThanOrEqual(basePolicy.autoLogoutMs);
    ctx.expect(await inspector.pttl(`${tag}ss`)).toBeGreaterThan(0);
    const denyTtl = await inspector.pttl(`${tag}d:${jti}`);
    ctx.expect(denyTtl).toBeGreaterThan(0);
    ctx.expect(denyTtl).toBeLessThanOrEqual(5_000);
    await store.logout(session.userId, session.sessionId, { jti: randomUUID(), tokenVersion: session.grant.tokenVersion, ttlMs: 3_000 });
    const denied = (await scanKeys(inspector, `${tag}d:`)).filter((key) => key !== `${tag}d:${jti}`);
    ctx.expect(denied).toHaveLength(1);
    ctx.expect(await inspector.pttl(denied[0] ?? '')).toBeGreaterThan(0);
  });

  test('a login under a shorter refresh lifetime never shortens the session set below older sessions', async (ctx) => {
    const { store, prefix, inspector } = await setup(ctx);
    const older = await login(store);
    // The operator lowered auth.refresh_lifetime; an instance with the new config logs the same user in.
    const redis = await connectRedis();
    const shorter = createRedisSessionStore({ redis, prefix, policy: { ...basePolicy, refreshLifetimeMs: 1_000 } });
    ctx.onTestFinished(() => shorter.close());
    await login(shorter, { userId: older.userId });
    const setTtl = await inspector.pttl(`${prefix}{${older.userId}}:ss`);
    ctx.expect(setTtl).toBeGreaterThan(basePolicy.refreshLifetimeMs - 5_000);
    ctx.expect((await store.list(older.userId)).map((info) => info.id)).toContain(older.sessionId);
  });

  test('a rotation the script cannot complete fails alone (503), and the others of its batch still rotate', async (ctx) => {
    const { store, prefix, inspector } = await setup(ctx);
    const [broken, healthy] = await Promise.all([login(store), login(store)]);
    // A session hash missing a field: the service never writes one, as if edited by hand.
    await inspector.hdel(`${prefix}{${broken.userId}}:s:${broken.sessionId}`, 'abs');
    // Both in one turn of the event loop: one script call.
    const [failed, rotated] = await Promise.allSettled([broken.rotate(0), healthy.rotate(0)]);
    ctx.expect(failed.status).toBe('rejected');
    ctx.expect(failed.status === 'rejected' && failed.reason).toBeInstanceOf(UnavailableError);
    ctx.expect(rotated).toMatchObject({ status: 'fulfilled', value: { outcome: 'rotated', generation: 1 } });
    ctx.expect(await healthy.authenticate()).toBe('ok');
  });

  test('a kept session whose version fell behind is ended by a refresh token from before the change that moved it: invalid, not superseded (the version is checked first)', async (ctx) => {
    const { store, prefix, inspector } = await setup(ctx);
    const userId = randomUUID();
    const [, kept] = await loginMany(store, userId, 2);
    if (!kept) throw new Error('session missing');
    await kept.rotate(0);
    ctx.expect((await store.endOthers(userId, kept.sessionId, ['user']))?.generation).toBe(2);
    // The user's version moves on without this session being ended: a bump it missed (an endAll
    // that did not find it, its session-set entry lost). Generation 1 is from before the change
    // that moved it.
    await inspector.incr(`${prefix}{${userId}}:tv`);
    ctx.expect(await kept.rotate(1)).toEqual({ outcome: 'invalid' });
    ctx.expect(await inspector.exists(`${prefix}{${userId}}:s:${kept.sessionId}`)).toBe(0);
    ctx.expect(await inspector.zscore(`${prefix}{${userId}}:ss`, kept.sessionId)).toBeNull();
  });

  test('a session a logout-all missed (its session set lost, as a volatile-* policy may evict it) stays revoked: a password change cannot keep it', async (ctx) => {
    const { store, prefix, inspector } = await setup(ctx);
    const userId = randomUUID();
    const [missed] = await loginMany(store, userId, 2);
    if (!missed) throw new Error('session missing');
    const tag = `${prefix}{${userId}}:`;
    await inspector.del(`${tag}ss`);
    await store.endAll(userId);
    ctx.expect(await inspector.exists(`${tag}s:${missed.sessionId}`)).toBe(1);
    ctx.expect(await missed.authenticate()).toBe('stale_version');
    // The password change this session's request began before the logout-all goes on.
    ctx.expect(await store.endOthersKeepingTokens(userId, missed.sessionId)).toBe(false);
    ctx.expect(await store.endOthers(userId, missed.sessionId, ['user'])).toBeNull();
    ctx.expect(await inspector.get(`${tag}tv`)).toBe('1');
    ctx.expect(await inspector.hget(`${tag}s:${missed.sessionId}`, 'tv')).toBe('0');
    for (const tokenVersion of [0, 1, 2]) ctx.expect(await missed.authenticate(tokenVersion)).toBe('stale_version');
    ctx.expect(await missed.rotate(0)).toEqual({ outcome: 'invalid' });
  });

  test('with replicated revocations, a session gone on the main connection only (a stale master in a failover) is not confirmed ended: 503 until it is gone there too', async (ctx) => {
    const { store: current, prefix, inspector } = await setup(ctx);
    // The revocations' connection follows the new master (database 0, where the session was
    // created); the main connection still reads the old one (database 1, which never saw it).
    const [stale, revocations] = await Promise.all([connectRedis(1), connectRedis()]);
    const split = createRedisSessionStore({ redis: stale, prefix, policy: basePolicy, replicated: { redis: revocations, replicas: 0, waitMs: 100 } });
    ctx.onTestFinished(() => split.close());
    const session = await login(current);
    ctx.expect(await split.getSalt(session.userId, session.sessionId)).toBeNull();
    await ctx.expect(split.confirmEnded(session.userId, session.sessionId)).rejects.toBeInstanceOf(UnavailableError);
    ctx.expect(await session.authenticate()).toBe('ok');
    ctx.expect(await inspector.exists(`${prefix}{${session.userId}}:ack`)).toBe(1); // the shared confirmation ran first
    ctx.expect(await current.endSession(session.userId, session.sessionId)).toBe(true);
    await split.confirmEnded(session.userId, session.sessionId);
  });

  test('losing only the deny keys or only the token version never revives a revoked token; losing the version logs the user out', async (ctx) => {
    const { store, prefix, inspector } = await setup(ctx);
    const revoked = await login(store);
    const jti = randomUUID();
    await store.deny(revoked.userId, revoked.sessionId, jti, 60_000);
    const changed = await login(store);
    const kept = await store.endOthers(changed.userId, changed.sessionId, ['user']);
    ctx.expect(kept).not.toBeNull();

    const lost = [...(await scanKeys(inspector, `${prefix}{${revoked.userId}}:d:`)), `${prefix}{${changed.userId}}:tv`];
    await inspector.del(...lost);

    ctx.expect(await revoked.authenticate(revoked.grant.tokenVersion, jti)).toBe('denied');
    ctx.expect(await revoked.authenticate()).toBe('ok');
    ctx.expect(await changed.authenticate(changed.grant.tokenVersion)).toBe('stale_version');
    // The kept session is ahead of the version now read (0): refused, as DESIGN's claims.tv == tv says,
    // so a later logout-all (back to version 1) cannot miss it.
    ctx.expect(await changed.authenticate(kept?.tokenVersion)).toBe('stale_version');
    ctx.expect(await changed.rotate(kept?.generation ?? 0)).toEqual({ outcome: 'invalid' });
    ctx.expect(await inspector.exists(`${prefix}{${changed.userId}}:s:${changed.sessionId}`)).toBe(0);
  });

  test('losing every key logs the user out and never revives a revoked token', async (ctx) => {
    const { store, prefix, inspector } = await setup(ctx);
    const userId = randomUUID();
    const revoked = await login(store, { userId });
    const revokedJti = randomUUID();
    await store.logout(userId, revoked.sessionId, { jti: revokedJti, tokenVersion: revoked.grant.tokenVersion, ttlMs: 60_000 });
    const beforeEndAll = await login(store, { userId });
    const tokenVersion = await store.endAll(userId);
    const live = await login(store, { userId });
    await live.rotate(0);
    ctx.expect(await live.authenticate()).toBe('ok');

    await deleteKeys(inspector, prefix);

    ctx.expect(await scanKeys(inspector, prefix)).toEqual([]);
    ctx.expect(await live.authenticate(tokenVersion)).toBe('no_session');
    ctx.expect(await live.getSalt()).toBeNull();
    ctx.expect(await live.rotate(1)).toEqual({ outcome: 'invalid' });
    ctx.expect(await revoked.authenticate(revoked.grant.tokenVersion, revokedJti)).toBe('no_session');
    ctx.expect(await beforeEndAll.authenticate(beforeEndAll.grant.tokenVersion)).toBe('no_session');
    ctx.expect(await beforeEndAll.rotate(0)).toEqual({ outcome: 'invalid' });
  });
});
