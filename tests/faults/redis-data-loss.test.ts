/**
 * Issue 7, item 3 (DESIGN principle 3): losing Redis data — FLUSHALL, or a restart of a Redis
 * without persistence — may log users out, but must never make a revoked token valid again.
 * Every kind of revocation is covered: logout (access and refresh token), RFC 7009 revoke of an
 * access or a refresh token, logout-all, and a password change.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CleanupStack } from '../../scripts/cluster/cleanup.js';
import { PASSWORD, testCluster, type TestInstance } from '../helpers/test-app.js';
import { authenticate, login, type Login, refresh, register, report, request } from './http.js';
import { type FaultRedis, faultRedis, pollUntil } from './servers.js';

const NEW_PASSWORD = 'a different horse, battery and staple';

describe.each(['exact', 'cached'] as const)('Redis data loss, cache.revocation: %s', (revocation) => {
  const cleanup = new CleanupStack();
  let redis: FaultRedis;
  let admin: Redis;
  let instances: TestInstance[] = [];

  beforeAll(async () => {
    redis = await faultRedis(cleanup);
    await redis.start();
    admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    await admin.connect();
    cleanup.add(() => admin.disconnect());
    const cluster = await testCluster({ cache: { url: redis.url, revocation, command_timeout: '500ms' } });
    instances = await Promise.all([cluster.start(), cluster.start()]);
  });

  afterEach(async () => {
    if (!redis.process().running()) await redis.start();
  });

  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.stop()));
    await cleanup.run();
  });

  const statusesEverywhere = async (token: string) =>
    Promise.all(instances.map(async (instance) => (await authenticate(instance.url, token)).status));

  /** Revokes one token of every kind; returns the dead access and refresh tokens, by what killed them. */
  async function revokeEverything(a: TestInstance, b: TestInstance) {
    const users: Record<string, Login> = {
      logout: await register(a.url),
      logoutByRefresh: await register(a.url),
      revokeAccess: await register(b.url),
      revokeRefresh: await register(b.url),
      logoutAll: await register(a.url),
      password: await register(b.url),
    };
    const logoutAllSecond = await login(b.url, users.logoutAll!);
    const passwordSecond = await login(a.url, users.password!);
    const deadAccess: Record<string, string> = {
      logout: users.logout!.accessToken,
      logoutByRefresh: users.logoutByRefresh!.accessToken,
      revokeAccess: users.revokeAccess!.accessToken,
      revokeRefresh: users.revokeRefresh!.accessToken,
      logoutAll: users.logoutAll!.accessToken,
      'logoutAll (other session)': logoutAllSecond.accessToken,
      password: passwordSecond.accessToken,
      'password (other session)': users.password!.accessToken,
    };
    // Warm every answer on both instances first (the cached mode remembers a token's answer from
    // its second read on): the cached mode must drop them on revocation.
    for (let round = 0; round < 2; round += 1) {
      for (const token of Object.values(deadAccess)) expect(await statusesEverywhere(token)).toEqual([200, 200]);
    }

    const ok = (status: number, expected: number, what: string) => expect(status, what).toBe(expected);
    ok((await request(a.url, 'POST', '/logout', { token: users.logout!.accessToken })).status, 204, 'logout');
    ok((await request(b.url, 'POST', '/logout', { body: { refresh_token: users.logoutByRefresh!.refreshToken } })).status, 204, 'logout by refresh');
    ok((await request(a.url, 'POST', '/revoke', { body: { token: users.revokeAccess!.accessToken, token_type_hint: 'access_token' } })).status, 200, 'revoke access');
    ok((await request(b.url, 'POST', '/revoke', { body: { token: users.revokeRefresh!.refreshToken } })).status, 200, 'revoke refresh');
    ok((await request(a.url, 'POST', '/logout-all', { token: users.logoutAll!.accessToken })).status, 204, 'logout-all');
    const changed = await request(b.url, 'POST', '/password', {
      token: passwordSecond.accessToken,
      body: { current_password: PASSWORD, new_password: NEW_PASSWORD },
      timeoutMs: 10_000,
    });
    ok(changed.status, 200, 'password change');
    // The caller's session goes on with the new pair; its old access token carries the old version.
    const deadRefresh: Record<string, string> = {
      logout: users.logout!.refreshToken,
      logoutByRefresh: users.logoutByRefresh!.refreshToken,
      revokeRefresh: users.revokeRefresh!.refreshToken,
      logoutAll: users.logoutAll!.refreshToken,
      'logoutAll (other session)': logoutAllSecond.refreshToken,
      'password (other session)': users.password!.refreshToken,
    };
    for (const [what, token] of Object.entries(deadAccess)) expect(await statusesEverywhere(token), what).toEqual([401, 401]);
    return { users, deadAccess, deadRefresh, afterPasswordChange: changed.body?.access_token as string };
  }

  const losses = {
    FLUSHALL: async () => {
      await admin.flushall();
    },
    'restart without persistence': async () => {
      await redis.kill();
      await redis.start({ persistence: false });
    },
  };

  it.each(Object.keys(losses) as (keyof typeof losses)[])('after %s no revoked token is accepted again; users log in again', async (loss) => {
    const [a, b] = instances as [TestInstance, TestInstance];
    const alive = await register(a.url);
    expect(await statusesEverywhere(alive.accessToken)).toEqual([200, 200]);
    const { users, deadAccess, deadRefresh, afterPasswordChange } = await revokeEverything(a, b);
    // The revoke of an access token ends only that token: its session (and refresh token) live on.
    const revokeAccessRefresh = users.revokeAccess!.refreshToken;
    expect((await refresh(a.url, revokeAccessRefresh)).status).toBe(200);

    await losses[loss]();
    expect(await admin.dbsize()).toBe(0);

    // Wait until the service answers again (a restart: reconnect), watching every dead token.
    const accepted: string[] = [];
    const watch = async () => {
      for (const [what, token] of Object.entries(deadAccess)) {
        if ((await statusesEverywhere(token)).includes(200)) accepted.push(what);
      }
    };
    const recoveryMs = await pollUntil(async () => {
      await watch();
      return (await statusesEverywhere(alive.accessToken)).every((status) => status !== 503);
    }, 5_000);
    await watch();
    expect(accepted, 'revoked access tokens accepted after the data loss').toEqual([]);
    for (const [what, token] of Object.entries(deadAccess)) expect(await statusesEverywhere(token), what).toEqual([401, 401]);
    for (const [what, token] of Object.entries(deadRefresh)) expect((await refresh(b.url, token)).status, `refresh: ${what}`).toBe(401);

    // Everyone else is logged out too (the cached mode may still answer a never-revoked token
    // from its cache for up to revocation_cache_max_age after a FLUSHALL, which publishes nothing).
    const cacheMayAnswer = revocation === 'cached' && loss === 'FLUSHALL';
    const expectLoggedOut = (statuses: number[], what: string) => {
      if (cacheMayAnswer) for (const status of statuses) expect([200, 401], what).toContain(status);
      else expect(statuses, what).toEqual([401, 401]);
    };
    const aliveAfter = await statusesEverywhere(alive.accessToken);
    expectLoggedOut(aliveAfter, 'a never-revoked token');
    expectLoggedOut(await statusesEverywhere(afterPasswordChange), 'the pair issued by the password change');
    expect((await refresh(a.url, alive.refreshToken)).status).toBe(401);
    expect((await refresh(a.url, revokeAccessRefresh)).status).toBe(401);
    report(`${revocation}, ${loss}: usable again after ${recoveryMs.toFixed(0)} ms; never-revoked token now ${aliveAfter.join('/')}`);

    // Fresh logins work; the changed password is the only one that does.
    const oldPassword = await request(a.url, 'POST', '/login', { body: { email: users.password!.email, password: PASSWORD }, timeoutMs: 10_000 });
    expect(oldPassword.status).toBe(401);
    const relogged = await login(b.url, users.password!, NEW_PASSWORD);
    expect(await statusesEverywhere(relogged.accessToken)).toEqual([200, 200]);
    for (const user of [alive, users.logout!, users.logoutAll!]) {
      const again = await login(a.url, user);
      expect(await statusesEverywhere(again.accessToken)).toEqual([200, 200]);
      expect((await refresh(b.url, again.refreshToken)).status).toBe(200);
    }
    const newcomer = await register(b.url);
    expect(await statusesEverywhere(newcomer.accessToken)).toEqual([200, 200]);
    // And the old ones stay dead next to the new sessions of the same users.
    for (const [what, token] of Object.entries(deadAccess)) expect(await statusesEverywhere(token), what).toEqual([401, 401]);
  }, 45_000);
});
