/**
 * Redis at `maxmemory` under `noeviction` (docker-compose.yml caps it): Redis refuses writes. Every
 * answer is then complete or a 503 `unavailable` with `Retry-After`, never a 500; a revocation
 * answered 204 holds, and one answered 503 changed nothing (the client retries it). `/authenticate`
 * goes on answering from reads, its idle-window write skipped. Once Redis has room again,
 * everything works without a restart.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CleanupStack } from '../../scripts/cluster/cleanup.js';
import { redisKeys } from '../../src/sessions/redis-keys.js';
import { activityThrottleMs } from '../../src/sessions/session-store.js';
import { PASSWORD, testCluster, type TestInstance, uniqueEmail } from '../helpers/test-app.js';
import { authenticate, type Exchange, type Login, refresh, register, request } from './http.js';
import { faultRedis } from './servers.js';

const LATE_EMAIL = uniqueEmail();

function expectUnavailable(response: Exchange, what: string) {
  expect(response.status, `${what}: ${JSON.stringify(response.body)}`).toBe(503);
  expect(response.body?.error, what).toBe('unavailable');
  expect(response.headers.get('retry-after'), what).toMatch(/^\d+$/);
}

describe('Redis full (maxmemory reached, noeviction)', () => {
  const cleanup = new CleanupStack();
  let admin: Redis;
  let app: TestInstance;
  let sessionKey: (user: Login) => string;
  /** A last activity old enough that the next check must slide the idle window. */
  let slideDue: () => number;
  let users: Login[];

  const setMaxMemory = (bytes: number) => admin.config('SET', 'maxmemory', String(bytes));

  beforeAll(async () => {
    const redis = await faultRedis(cleanup);
    await redis.start();
    admin = new Redis(redis.url);
    cleanup.add(() => admin.disconnect());
    // The default auto_logout (24h): an idle-window write falls due only when a test makes it so.
    const cluster = await testCluster({ cache: { url: redis.url } });
    const keys = redisKeys(cluster.config.cache.key_prefix);
    sessionKey = (user) => keys.session(user.userId, user.sessionId);
    const throttle = activityThrottleMs({ autoLogoutMs: cluster.config.auth.auto_logout, refreshLifetimeMs: 0, refreshReuseGraceMs: 0, maxSessions: 0 });
    slideDue = () => Date.now() - throttle - 60_000;
    app = await cluster.start();
    users = [];
    for (let i = 0; i < 4; i++) users.push(await register(app.url));
    // The last user was last seen long enough ago that its next check must slide its idle window
    // (0: the field existed, so this is the session's own record).
    expect(await admin.hset(sessionKey(users[3] as Login), 'seen', slideDue())).toBe(0);
    // Below what Redis already holds: every write that would grow it is refused.
    await setMaxMemory(1);
  });

  afterAll(async () => {
    await app?.stop();
    await cleanup.run();
  });

  it('refuses with 503 what it cannot write, completes what it begins, and never answers 500', async () => {
    const [loggedOut, endsAll, refresher, reader] = users as [Login, Login, Login, Login];
    // The check must slide the idle window, a write Redis refuses: it is answered all the same,
    // the window left where it was.
    const ttl = await admin.pttl(sessionKey(reader));
    expect((await authenticate(app.url, reader.accessToken)).status).toBe(200);
    expect(Number(await admin.hget(sessionKey(reader), 'seen'))).toBeLessThan(slideDue() + 60_000);
    expect(await admin.pttl(sessionKey(reader))).toBeLessThanOrEqual(ttl);

    expectUnavailable(await request(app.url, 'POST', '/login', { body: { email: reader.email, password: PASSWORD }, timeoutMs: 10_000 }), 'login');
    expectUnavailable(await refresh(app.url, refresher.refreshToken), 'refresh');
    expectUnavailable(await request(app.url, 'POST', '/register', { body: { email: LATE_EMAIL, password: PASSWORD }, timeoutMs: 10_000 }), 'register');
    // logout-all and /revoke begin with a write (the token version, the denied jti): refused, so nothing changed.
    expectUnavailable(await request(app.url, 'POST', '/logout-all', { token: endsAll.accessToken }), 'logout-all');
    expectUnavailable(await request(app.url, 'POST', '/revoke', { body: { token: endsAll.accessToken } }), 'revoke');
    expect((await authenticate(app.url, endsAll.accessToken)).status).toBe(200);
    // A logout begins by deleting the session, which frees memory; a script that has written goes on.
    expect((await request(app.url, 'POST', '/logout', { token: loggedOut.accessToken })).status).toBe(204);
    expect((await authenticate(app.url, loggedOut.accessToken)).status).toBe(401);
  });

  it('works again, without a restart, once Redis has room', async () => {
    const [loggedOut, endsAll, refresher, reader] = users as [Login, Login, Login, Login];
    await setMaxMemory(0);
    expect((await authenticate(app.url, reader.accessToken)).status).toBe(200);
    // The refused slide is made now.
    expect(Number(await admin.hget(sessionKey(reader), 'seen'))).toBeGreaterThan(Date.now() - 60_000);
    expect((await refresh(app.url, refresher.refreshToken)).status).toBe(200);
    expect((await request(app.url, 'POST', '/logout-all', { token: endsAll.accessToken })).status).toBe(204);
    expect((await authenticate(app.url, endsAll.accessToken)).status).toBe(401);
    // The registration refused while Redis was full left no account behind: not 409 now.
    expect((await request(app.url, 'POST', '/register', { body: { email: LATE_EMAIL, password: PASSWORD }, timeoutMs: 10_000 })).status).toBe(201);
    // The logout made while Redis was full still holds.
    expect((await authenticate(app.url, loggedOut.accessToken)).status).toBe(401);
  });
});
