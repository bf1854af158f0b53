/**
 * Issue 7, item 1 (and 3 for `cache.revocation: cached`): Redis killed and started again on the
 * same port, under a real in-process service with two instances. Fail closed and fast while
 * Redis is gone, recover without a restart, never let a revoked token through.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CleanupStack } from '../../scripts/cluster/cleanup.js';
import { type AdminDeps, disableUser, setUserRoles } from '../../src/admin/users.js';
import { lateWritesSettled } from '../../src/auth/late-writes.js';
import { landingLate } from '../helpers/late-write.js';
import { PASSWORD, testCluster, uniqueEmail, type TestInstance } from '../helpers/test-app.js';
import { authenticate, expectUnavailable, type Exchange, login, refresh, register, report, request } from './http.js';
import { type FaultRedis, faultRedis, pollUntil, summary } from './servers.js';

/** CI slack over the 500 ms target for one `/authenticate` while Redis is down. */
const AUTHENTICATE_BUDGET_MS = 1_000;
/** Other endpoints may hash a password (argon2) before they reach Redis. */
const WRITE_BUDGET_MS = 2_000;
/** Service usable again this long after Redis answers PING again. */
const RECOVERY_BUDGET_MS = 2_000;
const MIN_OUTAGE_MS = 3_000;

describe.each(['exact', 'cached'] as const)('Redis killed, cache.revocation: %s', (revocation) => {
  const cleanup = new CleanupStack();
  let redis: FaultRedis;
  let instances: TestInstance[] = [];

  beforeAll(async () => {
    redis = await faultRedis(cleanup);
    await redis.start({ persistence: true });
    const cluster = await testCluster({ cache: { url: redis.url, revocation, command_timeout: '500ms' } });
    instances = await Promise.all([cluster.start(), cluster.start()]);
  });

  // A failed test must not leave the next one without Redis.
  afterEach(async () => {
    if (!redis.process().running()) await redis.start({ persistence: true });
  });

  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.stop()));
    await cleanup.run();
  });

  /** `/authenticate` on every instance; the statuses in instance order. */
  const statusesEverywhere = async (token: string) =>
    Promise.all(instances.map(async (instance) => (await authenticate(instance.url, token)).status));

  it('answers 503 fast while Redis is down, never 200 for a revoked token, and resumes on the same port without a restart', async () => {
    const [a, b] = instances as [TestInstance, TestInstance];
    const alive = await register(a.url);
    const loggedOut = await register(a.url);
    const revokedAtKill = await register(a.url);
    const attempted = await register(a.url);
    expect((await request(a.url, 'POST', '/logout', { token: loggedOut.accessToken })).status).toBe(204);
    // Warm both instances (the cached mode keeps these answers), then revoke one of them
    // on instance a and kill Redis right after the 204.
    for (let round = 0; round < 2; round += 1) {
      for (const user of [alive, revokedAtKill, attempted]) expect(await statusesEverywhere(user.accessToken)).toEqual([200, 200]);
    }
    expect((await request(a.url, 'POST', '/logout', { token: revokedAtKill.accessToken })).status).toBe(204);
    await redis.kill();
    const downSince = performance.now();

    // 1. /authenticate: 503 + Retry-After, each one fast; revoked tokens never 200.
    const latencies: number[] = [];
    for (let round = 0; round < 20; round += 1) {
      const instance = round % 2 === 0 ? a : b;
      const response = await authenticate(instance.url, alive.accessToken);
      expectUnavailable(response, `authenticate round ${round}`);
      latencies.push(response.ms);
      for (const revoked of [loggedOut, revokedAtKill]) {
        expect([401, 503], 'a revoked token while Redis is down').toContain((await authenticate(instance.url, revoked.accessToken)).status);
      }
    }
    report(`${revocation}: /authenticate with Redis killed: ${summary(latencies)}`);
    for (const ms of latencies) expect(ms).toBeLessThan(AUTHENTICATE_BUDGET_MS);
    // Counted as dependency errors (the warning itself is written at most once a second).
    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    const cacheErrors = metrics.split('\n').find((row) => row.startsWith('jwt_dependency_errors_total{dependency="cache"}'));
    expect(Number(cacheErrors?.split(' ').at(-1))).toBeGreaterThanOrEqual(10);

    // 2. Every other Redis-backed endpoint: 503 with Retry-After, never 500, never a hang.
    const newEmail = uniqueEmail();
    const calls: [string, () => Promise<Exchange>][] = [
      ['login', () => request(a.url, 'POST', '/login', { body: { email: alive.email, password: PASSWORD } })],
      ['register', () => request(b.url, 'POST', '/register', { body: { email: newEmail, password: PASSWORD } })],
      ['refresh', () => refresh(a.url, alive.refreshToken)],
      ['logout (access token)', () => request(b.url, 'POST', '/logout', { token: attempted.accessToken })],
      ['logout (refresh token)', () => request(a.url, 'POST', '/logout', { body: { refresh_token: attempted.refreshToken } })],
      ['logout-all', () => request(b.url, 'POST', '/logout-all', { token: attempted.accessToken })],
      ['revoke (access token)', () => request(a.url, 'POST', '/revoke', { body: { token: attempted.accessToken } })],
      ['revoke (refresh token)', () => request(b.url, 'POST', '/revoke', { body: { token: attempted.refreshToken } })],
      ['me', () => request(a.url, 'GET', '/me', { token: alive.accessToken })],
      ['sessions', () => request(b.url, 'GET', '/sessions', { token: alive.accessToken })],
    ];
    const writeLatencies: string[] = [];
    for (const [what, call] of calls) {
      const response = await call();
      expectUnavailable(response, what);
      expect(response.ms, what).toBeLessThan(WRITE_BUDGET_MS);
      writeLatencies.push(`${what} ${response.ms.toFixed(0)}ms`);
    }
    const ready = await request(a.url, 'GET', '/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body?.checks).toEqual({ cache: 'down', database: 'ok' });
    report(`${revocation}: other endpoints with Redis killed: ${writeLatencies.join(', ')}`);

    // 3. Redis back on the same port, with its data (fsync-always AOF): resumes within 2 s. The
    // outage lasts at least 3 s, so the client's reconnect back-off has reached its cap.
    await sleep(Math.max(0, MIN_OUTAGE_MS - (performance.now() - downSince)));
    await redis.start({ persistence: true });
    const seen = new Set<number>();
    const recoveryMs = await pollUntil(async () => {
      for (const revoked of [loggedOut, revokedAtKill]) for (const status of await statusesEverywhere(revoked.accessToken)) seen.add(status);
      const statuses = await statusesEverywhere(alive.accessToken);
      return statuses.every((status) => status === 200);
    }, 5_000);
    report(`${revocation}: recovered ${recoveryMs.toFixed(0)} ms after Redis answered PING again`);
    expect(recoveryMs).toBeLessThan(RECOVERY_BUDGET_MS);
    expect(seen.has(200), 'a revoked token was accepted during recovery').toBe(false);

    // The data survived: old tokens work, revoked ones stay revoked, and the writes that were
    // answered 503 were not applied later (the attempted logouts/revocations did not happen).
    expect(await statusesEverywhere(loggedOut.accessToken)).toEqual([401, 401]);
    expect(await statusesEverywhere(revokedAtKill.accessToken)).toEqual([401, 401]);
    expect(await statusesEverywhere(attempted.accessToken)).toEqual([200, 200]);
    expect((await refresh(b.url, alive.refreshToken)).status).toBe(200);
    expect((await refresh(a.url, revokedAtKill.refreshToken)).status).toBe(401);
    await login(b.url, alive);

  }, 30_000);

  it('after a restart without persistence, every old token is refused (users log in again) and new logins work', async () => {
    const [a, b] = instances as [TestInstance, TestInstance];
    const alive = await register(a.url);
    const loggedOut = await register(b.url);
    expect((await request(b.url, 'POST', '/logout', { token: loggedOut.accessToken })).status).toBe(204);
    expect(await statusesEverywhere(alive.accessToken)).toEqual([200, 200]);
    expect(await statusesEverywhere(alive.accessToken)).toEqual([200, 200]);

    await redis.kill();
    expectUnavailable(await authenticate(a.url, alive.accessToken), 'authenticate while down');
    await redis.start({ persistence: false });

    const seen: number[] = [];
    const recoveryMs = await pollUntil(async () => {
      const statuses = [...(await statusesEverywhere(alive.accessToken)), ...(await statusesEverywhere(loggedOut.accessToken))];
      seen.push(...statuses);
      return statuses.every((status) => status === 401);
    }, 5_000);
    report(`${revocation}: data lost by restart, old tokens refused (401) ${recoveryMs.toFixed(0)} ms after Redis answered again`);
    expect(recoveryMs).toBeLessThan(RECOVERY_BUDGET_MS);
    expect(seen.filter((status) => status !== 401 && status !== 503)).toEqual([]);

    expect((await refresh(a.url, alive.refreshToken)).status).toBe(401);
    expect((await refresh(b.url, loggedOut.refreshToken)).status).toBe(401);
    const again = await login(b.url, alive);
    expect(await statusesEverywhere(again.accessToken)).toEqual([200, 200]);
    expect((await refresh(a.url, again.refreshToken)).status).toBe(200);
    const newcomer = await register(a.url);
    expect(await statusesEverywhere(newcomer.accessToken)).toEqual([200, 200]);
    expect(await statusesEverywhere(alive.accessToken)).toEqual([401, 401]);
  }, 30_000);

  // An admin's disable is written to PostgreSQL, then ends the sessions in Redis. With Redis down
  // the admin is told 503 ("saved, sessions not ended yet"); the instance ends them once Redis is
  // back, without waiting for the repeat. Independent of the revocation mode: defined once.
  if (revocation === 'exact') it('an admin change answered 503 during the outage ends the user\'s sessions once Redis is back, unrepeated', async () => {
    const [a, b] = instances as [TestInstance, TestInstance];
    const user = await register(a.url);
    expect(await statusesEverywhere(user.accessToken)).toEqual([200, 200]);
    await redis.kill();
    const refusal = (deps: AdminDeps) =>
      disableUser(deps, {}, user.userId).then(
        () => undefined,
        (error: unknown) => error,
      );
    // The CLI's deps have no retries (it exits): its 503 promises none.
    const { endRetries, ...cliDeps } = a.deps;
    expect(endRetries).toBeDefined();
    expect(await refusal(cliDeps)).toMatchObject({ code: 'unavailable', message: "the change is saved, but the user's sessions could not be ended yet: repeat this request" });
    expect(await refusal(a.deps)).toMatchObject({ code: 'unavailable', message: expect.stringContaining('(this instance retries for 5 minutes)') });
    expect((await a.deps.users.findById(user.userId))?.disabledAt).not.toBeNull();
    await redis.start({ persistence: true });
    const endedAfterMs = await pollUntil(async () => (await statusesEverywhere(user.accessToken)).every((status) => status === 401), 15_000);
    report(`admin disable answered 503 while Redis was down: the user's tokens refused ${endedAfterMs.toFixed(0)} ms after Redis was started again`);
    expect((await refresh(b.url, user.refreshToken)).status).toBe(401);
  }, 30_000);

  if (revocation === 'exact') it('a repeat of the admin change that worked stops the retries: a session begun after it lives on', async () => {
    const [a] = instances as [TestInstance];
    const user = await register(a.url);
    await redis.kill();
    const scheduledAt = performance.now();
    await expect(setUserRoles(a.deps, {}, user.userId, ['user', 'auditor'])).rejects.toMatchObject({ code: 'unavailable' });
    // The retries after 1 s and 3 s fail too; the next would come 4 s later, at 7 s.
    await sleep(3_500);
    await redis.start({ persistence: true });
    await pollUntil(async () => (await request(a.url, 'GET', '/health/ready')).status === 200, 5_000);
    expect((await setUserRoles(a.deps, {}, user.userId, ['user', 'auditor'])).roles).toEqual(['user', 'auditor']);
    const fresh = await login(a.url, user);
    const beforeNextRetryMs = 7_000 - (performance.now() - scheduledAt);
    report(`admin change repeated and a new login made ${beforeNextRetryMs.toFixed(0)} ms before the retry a cancel must stop`);
    // Made in time, or this run cannot tell whether the cancel works.
    expect(beforeNextRetryMs).toBeGreaterThan(500);
    await sleep(beforeNextRetryMs + 1_500);
    expect((await authenticate(a.url, fresh.accessToken)).status).toBe(200);
    expect((await authenticate(a.url, user.accessToken)).status).toBe(401);
  }, 30_000);

  // An admin change whose write PostgreSQL answers late ends the sessions at once and again once it
  // lands (a login made between has the old roles); that second end, failing, is retried too.
  if (revocation === 'exact') it('an admin change whose late write lands while Redis is down ends the session begun meanwhile once Redis is back', async () => {
    const [a, b] = instances as [TestInstance, TestInstance];
    const user = await register(a.url);
    // As the CLI writes it (no acting admin): setRoles.
    const { land } = landingLate(a.deps.users, 'setRoles');
    await expect(setUserRoles(a.deps, {}, user.userId, ['user', 'auditor'])).rejects.toMatchObject({ code: 'unavailable' });
    expect(await statusesEverywhere(user.accessToken)).toEqual([401, 401]); // the first end
    const raced = await login(b.url, user);
    await redis.kill();
    land();
    await lateWritesSettled(a.deps.sessions); // the second end has failed
    await redis.start({ persistence: true });
    const endedAfterMs = await pollUntil(async () => (await statusesEverywhere(raced.accessToken)).every((status) => status === 401), 15_000);
    report(`a late admin write's second end failed with Redis down: the session begun meanwhile refused ${endedAfterMs.toFixed(0)} ms after Redis was started again`);
    expect((await refresh(b.url, raced.refreshToken)).status).toBe(401);
  }, 30_000);

  // Register writes the user to PostgreSQL, then creates the session in Redis. With Redis down
  // the client is told 503 ("not done, retry") although the account was created: the retry then
  // gets 409 email_taken, an outcome different from what the 503 promised (issue 7, item 1).
  // Independent of the revocation mode: defined once.
  if (revocation === 'exact') it('a register answered 503 during the outage can be retried successfully afterwards', async () => {
    const [a] = instances as [TestInstance];
    const email = uniqueEmail();
    await redis.kill();
    expectUnavailable(await request(a.url, 'POST', '/register', { body: { email, password: PASSWORD } }), 'register while down');
    await redis.start({ persistence: true });
    await pollUntil(async () => (await request(a.url, 'GET', '/health/ready')).status === 200, 5_000);
    const retry = await request(a.url, 'POST', '/register', { body: { email, password: PASSWORD } });
    report(`${revocation}: register retried after a 503 during the outage -> ${retry.status} ${String(retry.body?.error ?? '')}`);
    // 201 (the half-made account was undone) or 200 (the retry completes it) are both honest.
    expect([200, 201], `retry of a register that was answered 503: ${JSON.stringify(retry.body)}`).toContain(retry.status);
    expect(retry.body?.access_token).toEqual(expect.any(String));
  }, 30_000);
});
