/**
 * Redis at `maxmemory` under `noeviction` (docker-compose.yml caps it): Redis refuses writes. Every
 * answer is then complete or a 503 `unavailable` with `Retry-After`, never a 500; a revocation
 * answered 204 holds, and one answered 503 changed nothing (the client retries it). Once Redis has
 * room again, everything works without a restart.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CleanupStack } from '../../scripts/cluster/cleanup.js';
import { PASSWORD, testCluster, type TestInstance, uniqueEmail } from '../helpers/test-app.js';
import { authenticate, type Exchange, type Login, refresh, register, request } from './http.js';
import { faultRedis } from './servers.js';

/** Activity slides the idle window at most once per auto_logout / 100: 5 s here. */
const SLIDE_DUE_MS = 5_100;

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
  let users: Login[];

  const setMaxMemory = (bytes: number) => admin.config('SET', 'maxmemory', String(bytes));

  beforeAll(async () => {
    const redis = await faultRedis(cleanup);
    await redis.start();
    admin = new Redis(redis.url);
    cleanup.add(() => admin.disconnect());
    const cluster = await testCluster({ cache: { url: redis.url, command_timeout: '500ms' }, auth: { auto_logout: '500s' } });
    app = await cluster.start();
    users = [];
    for (let i = 0; i < 4; i++) users.push(await register(app.url));
    // Below what Redis already holds: every write that would grow it is refused.
    await setMaxMemory(1);
  });

  afterAll(async () => {
    await app?.stop();
    await cleanup.run();
  });

  it('refuses with 503 what it cannot write, completes what it begins, and never answers 500', async () => {
    const [loggedOut, endsAll, refresher, reader] = users as [Login, Login, Login, Login];
    // Reads need no room: a token whose idle window was just slid (registered last) is answered.
    expect((await authenticate(app.url, reader.accessToken)).status).toBe(200);

    expectUnavailable(await request(app.url, 'POST', '/login', { body: { email: reader.email, password: PASSWORD }, timeoutMs: 10_000 }), 'login');
    expectUnavailable(await refresh(app.url, refresher.refreshToken), 'refresh');
    expectUnavailable(await request(app.url, 'POST', '/register', { body: { email: LATE_EMAIL, password: PASSWORD }, timeoutMs: 10_000 }), 'register');
    // logout-all begins with a write (the token version): refused, so nothing changed.
    expectUnavailable(await request(app.url, 'POST', '/logout-all', { token: endsAll.accessToken }), 'logout-all');
    expect((await authenticate(app.url, endsAll.accessToken)).status).toBe(200);
    // A logout begins by deleting the session, which frees memory; a script that has written goes on.
    expect((await request(app.url, 'POST', '/logout', { token: loggedOut.accessToken })).status).toBe(204);
    expect((await authenticate(app.url, loggedOut.accessToken)).status).toBe(401);

    // Once the idle window is due to slide, /authenticate must write: fail closed, never 200 unchecked.
    await sleep(SLIDE_DUE_MS);
    expectUnavailable(await authenticate(app.url, reader.accessToken), 'authenticate with the slide due');
  });

  it('works again, without a restart, once Redis has room', async () => {
    const [loggedOut, endsAll, refresher, reader] = users as [Login, Login, Login, Login];
    await setMaxMemory(0);
    expect((await authenticate(app.url, reader.accessToken)).status).toBe(200);
    expect((await refresh(app.url, refresher.refreshToken)).status).toBe(200);
    expect((await request(app.url, 'POST', '/logout-all', { token: endsAll.accessToken })).status).toBe(204);
    expect((await authenticate(app.url, endsAll.accessToken)).status).toBe(401);
    // The registration refused while Redis was full left no account behind: not 409 now.
    expect((await request(app.url, 'POST', '/register', { body: { email: LATE_EMAIL, password: PASSWORD }, timeoutMs: 10_000 })).status).toBe(201);
    // The logout made while Redis was full still holds.
    expect((await authenticate(app.url, loggedOut.accessToken)).status).toBe(401);
  });
});
