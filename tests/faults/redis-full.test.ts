/**
 * Redis at `maxmemory` under `noeviction` (docker-compose.yml caps it): Redis refuses writes but
 * those of scripts flagged `allow-oom`, which every revoking script is. Every revocation then
 * completes; everything else is complete or a 503 `unavailable` with `Retry-After` that changed
 * nothing, never a 500. `/authenticate` goes on answering from reads, its idle-window write
 * skipped. Once Redis has room again, everything works without a restart.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CleanupStack } from '../../scripts/cluster/cleanup.js';
import { redisKeys } from '../../src/sessions/redis-keys.js';
import { activityThrottleMs } from '../../src/sessions/session-store.js';
import { PASSWORD, testCluster, type TestInstance, uniqueEmail } from '../helpers/test-app.js';
import { authenticate, expectUnavailable, login, type Login, refresh, register, request } from './http.js';
import { faultRedis } from './servers.js';

const LATE_EMAIL = uniqueEmail();
const NEW_PASSWORD = 'a brand new passphrase';

describe('Redis full (maxmemory reached, noeviction)', () => {
  const cleanup = new CleanupStack();
  let admin: Redis;
  let app: TestInstance;
  /** The same backend with the brute-force limits on (the service's default; the test helper turns them off). */
  let limited: TestInstance;
  let sessionKey: (user: Login) => string;
  /** A last activity old enough that the next check must slide the idle window. */
  let slideDue: () => number;
  let users: Login[];
  /** A user with a second session (`DELETE /sessions/:id`), and users for `/revoke` and `/password`. */
  let twoSessions: [Login, Login];
  let byRefresh: Login;
  let changesLimited: Login;
  let changesUnlimited: Login;
  let toDisable: Login;
  let adminToken: string;

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
    limited = await cluster.start({ limits: { enabled: true } });
    users = [];
    for (let i = 0; i < 5; i++) users.push(await register(app.url));
    const first = await register(app.url);
    twoSessions = [first, await login(app.url, first)];
    [byRefresh, changesLimited, changesUnlimited, toDisable] = [await register(app.url), await register(app.url), await register(app.url), await register(app.url)];
    const adminUser = await register(app.url);
    expect(await app.deps.users.setRoles(adminUser.userId, ['admin'])).toBe(true);
    adminToken = (await login(app.url, adminUser)).accessToken;
    // The last user was last seen long enough ago that its next check must slide its idle window
    // (0: the field existed, so this is the session's own record).
    expect(await admin.hset(sessionKey(users[3] as Login), 'seen', slideDue())).toBe(0);
    // Below what Redis already holds: every write that would grow it is refused.
    await setMaxMemory(1);
  });

  afterAll(async () => {
    await limited?.stop();
    await app?.stop();
    await cleanup.run();
  });

  it('refuses with 503 what it cannot write, completes every revocation, and never answers 500', async () => {
    const [loggedOut, endsAll, refresher, reader, revoked] = users as [Login, Login, Login, Login, Login];
    // The check must slide the idle window, a write Redis refuses: it is answered all the same,
    // the window left where it was.
    const expiresAt = async () => Number(await admin.call('PEXPIRETIME', sessionKey(reader)));
    const before = await expiresAt();
    expect((await authenticate(app.url, reader.accessToken)).status).toBe(200);
    expect(Number(await admin.hget(sessionKey(reader), 'seen'))).toBeLessThan(slideDue() + 60_000);
    expect(await expiresAt()).toBe(before);

    expectUnavailable(await request(app.url, 'POST', '/login', { body: { email: reader.email, password: PASSWORD }, timeoutMs: 10_000 }), 'login');
    expectUnavailable(await refresh(app.url, refresher.refreshToken), 'refresh');
    expectUnavailable(await request(app.url, 'POST', '/register', { body: { email: LATE_EMAIL, password: PASSWORD }, timeoutMs: 10_000 }), 'register');
    // Every revocation completes: its script may write when Redis is full (allow-oom).
    expect((await request(app.url, 'POST', '/revoke', { body: { token: revoked.accessToken } })).status).toBe(200);
    expect((await authenticate(app.url, revoked.accessToken)).status).toBe(401);
    expect((await request(app.url, 'POST', '/logout-all', { token: endsAll.accessToken })).status).toBe(204);
    expect((await authenticate(app.url, endsAll.accessToken)).status).toBe(401);
    expect((await request(app.url, 'POST', '/logout', { token: loggedOut.accessToken })).status).toBe(204);
    expect((await authenticate(app.url, loggedOut.accessToken)).status).toBe(401);
    const [ended, keeper] = twoSessions;
    expect((await request(app.url, 'DELETE', `/sessions/${ended.sessionId}`, { token: keeper.accessToken })).status).toBe(204);
    expect((await authenticate(app.url, ended.accessToken)).status).toBe(401);
    expect((await request(app.url, 'POST', '/revoke', { body: { token: byRefresh.refreshToken } })).status).toBe(200);
    expect((await authenticate(app.url, byRefresh.accessToken)).status).toBe(401);

    // With the brute-force limits on (the default), login and /password are refused at their count, changing nothing.
    expectUnavailable(await request(limited.url, 'POST', '/login', { body: { email: reader.email, password: PASSWORD }, timeoutMs: 10_000 }), 'login, limits on');
    const changeBody = { current_password: PASSWORD, new_password: NEW_PASSWORD };
    expectUnavailable(await request(limited.url, 'POST', '/password', { token: changesLimited.accessToken, body: changeBody, timeoutMs: 10_000 }), '/password, limits on');
    // With them off, /password completes: the ending of the other sessions, and the new version, are revocations.
    const changed = await request(app.url, 'POST', '/password', { token: changesUnlimited.accessToken, body: changeBody, timeoutMs: 10_000 });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect((await authenticate(app.url, changesUnlimited.accessToken)).status).toBe(401);
    expect((await authenticate(app.url, String(changed.body?.access_token))).status).toBe(200);

    // An admin's disable is saved and ends the user's sessions.
    const disabled = await request(app.url, 'POST', `/admin/users/${toDisable.userId}/disable`, { token: adminToken });
    expect(disabled.status, JSON.stringify(disabled.body)).toBe(200);
    expect(disabled.body?.disabled).toBe(true);
    expect((await authenticate(app.url, toDisable.accessToken)).status).toBe(401);
  });

  it('works again, without a restart, once Redis has room', async () => {
    const [loggedOut, endsAll, refresher, reader, revoked] = users as [Login, Login, Login, Login, Login];
    await setMaxMemory(0);
    expect((await authenticate(app.url, reader.accessToken)).status).toBe(200);
    // The refused slide is made now.
    expect(Number(await admin.hget(sessionKey(reader), 'seen'))).toBeGreaterThan(Date.now() - 60_000);
    expect((await refresh(app.url, refresher.refreshToken)).status).toBe(200);
    // The registration refused while Redis was full left no account behind: not 409 now.
    expect((await request(app.url, 'POST', '/register', { body: { email: LATE_EMAIL, password: PASSWORD }, timeoutMs: 10_000 })).status).toBe(201);
    // The revocations made while Redis was full still hold; revoking an access token left its session.
    for (const user of [loggedOut, endsAll, revoked]) expect((await authenticate(app.url, user.accessToken)).status).toBe(401);
    expect((await refresh(app.url, endsAll.refreshToken)).status).toBe(401);
    expect((await refresh(app.url, revoked.refreshToken)).status).toBe(200);
    // The refused change left the old password; the one answered 'changed' set the new one.
    expect((await request(limited.url, 'POST', '/login', { body: { email: changesLimited.email, password: PASSWORD }, timeoutMs: 10_000 })).status).toBe(200);
    expect((await request(app.url, 'POST', '/login', { body: { email: changesUnlimited.email, password: NEW_PASSWORD }, timeoutMs: 10_000 })).status).toBe(200);
  });
});
