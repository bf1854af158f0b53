/**
 * Issue 7, item 2: PostgreSQL stopped (fast shutdown) and started again on the same port and data
 * directory. `/authenticate` never touches PostgreSQL, so it keeps answering 200; register and
 * login answer 503 fast; both work again once the server is back, without a service restart.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { childPids } from '../../scripts/cluster/child-pids.js';
import { CleanupStack } from '../../scripts/cluster/cleanup.js';
import { UnavailableError } from '../../src/errors.js';
import { createPostgresUserStore } from '../../src/users/postgres-user-store.js';
import { PASSWORD, testCluster, uniqueEmail, type TestInstance } from '../helpers/test-app.js';
import { authenticate, expectUnavailable, type Exchange, login, refresh, register, report, request } from './http.js';
import { type FaultPostgres, faultPostgres, pollUntil, summary, timed } from './servers.js';

/** database.connect_timeout is 2 s; a refused connection should be far quicker. */
const DATABASE_BUDGET_MS = 2_500;
const AUTHENTICATE_REQUESTS = 300;
const CONCURRENCY = 10;

/** `pid` has exited: no such process, or a zombie not yet reaped. */
function exited(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

describe('PostgreSQL down', () => {
  const cleanup = new CleanupStack();
  let pg: FaultPostgres;
  let app: TestInstance;

  beforeAll(async () => {
    pg = await faultPostgres(cleanup);
    // The service's own Redis is the shared one (unique key prefix); its users live in our server.
    const cluster = await testCluster({ database: { url: pg.url, connect_timeout: '2s' } });
    app = await cluster.start();
  });

  afterEach(async () => {
    pg.thaw();
    if (!pg.process().running()) await pg.start();
  });

  afterAll(async () => {
    await app?.stop();
    await cleanup.run();
  });

  it('keeps /authenticate at 200, answers register/login 503 fast, and recovers without a restart', async () => {
    const user = await register(app.url);
    const other = await register(app.url);
    expect((await authenticate(app.url, user.accessToken)).status).toBe(200);

    await pg.stop();

    // /authenticate: hundreds of requests, 10 at a time, every one 200.
    const statuses = new Map<number, number>();
    const latencies: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < AUTHENTICATE_REQUESTS) {
          next += 1;
          const response = await authenticate(app.url, next % 2 === 0 ? user.accessToken : other.accessToken);
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          latencies.push(response.ms);
        }
      }),
    );
    report(`/authenticate with PostgreSQL down: ${JSON.stringify(Object.fromEntries(statuses))}, ${summary(latencies)}`);
    expect(Object.fromEntries(statuses)).toEqual({ 200: AUTHENTICATE_REQUESTS });

    // Register and login need the users table: 503 with Retry-After, within the connect timeout.
    const calls: [string, () => Promise<Exchange>][] = [
      ['register', () => request(app.url, 'POST', '/register', { body: { email: uniqueEmail(), password: PASSWORD } })],
      ['login', () => request(app.url, 'POST', '/login', { body: { email: user.email, password: PASSWORD } })],
      ['login (unknown e-mail)', () => request(app.url, 'POST', '/login', { body: { email: uniqueEmail(), password: PASSWORD } })],
      ['me', () => request(app.url, 'GET', '/me', { token: user.accessToken })],
    ];
    const timings: string[] = [];
    for (const [what, call] of calls) {
      const response = await call();
      expectUnavailable(response, what);
      expect(response.ms, what).toBeLessThan(DATABASE_BUDGET_MS);
      timings.push(`${what} ${response.ms.toFixed(0)}ms`);
    }
    const ready = await request(app.url, 'GET', '/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body?.checks).toEqual({ cache: 'ok', database: 'down' });
    // Refresh and logout live in Redis only: unaffected.
    const refreshed = await refresh(app.url, other.refreshToken);
    expect(refreshed.status).toBe(200);
    expect((await request(app.url, 'POST', '/logout', { token: other.accessToken })).status).toBe(204);
    report(`with PostgreSQL down: ${timings.join(', ')}; refresh ${refreshed.ms.toFixed(0)}ms (200)`);

    // Back on the same port: register and login work again, no restart of the service.
    const restartedAt = performance.now();
    await pg.start();
    const startedMs = performance.now() - restartedAt;
    const email = uniqueEmail();
    const recoveryMs = await pollUntil(async () => {
      const response = await request(app.url, 'POST', '/register', { body: { email, password: PASSWORD } });
      if (response.status !== 201 && response.status !== 503) throw new Error(`register during recovery: ${response.status}`);
      return response.status === 201;
    }, 10_000, 100);
    report(`PostgreSQL restarted in ${startedMs.toFixed(0)} ms; register worked again ${recoveryMs.toFixed(0)} ms after it answered`);
    const again = await login(app.url, user);
    expect((await authenticate(app.url, again.accessToken)).status).toBe(200);
    expect((await authenticate(app.url, user.accessToken)).status).toBe(200);
    expect((await request(app.url, 'GET', '/health/ready')).status).toBe(200);
  }, 45_000);

  it("an admin's revocation of a user's sessions works with PostgreSQL down: they live in Redis alone", async () => {
    const admin = await register(app.url);
    await app.deps.users.setRoles(admin.userId, ['user', 'admin']);
    const adminToken = (await login(app.url, admin)).accessToken;
    const user = await register(app.url);
    const second = await login(app.url, user);
    await pg.stop();
    const bySession = await request(app.url, 'DELETE', `/admin/users/${user.userId}/sessions/${second.sessionId}`, { token: adminToken });
    expect(bySession.status).toBe(204);
    expect((await authenticate(app.url, second.accessToken)).status).toBe(401);
    // Sessions are still looked up under their user: a live session named under another id is not found.
    expect((await request(app.url, 'DELETE', `/admin/users/${randomUUID()}/sessions/${user.sessionId}`, { token: adminToken })).status).toBe(404);
    expect((await authenticate(app.url, user.accessToken)).status).toBe(200);
    expect((await request(app.url, 'DELETE', `/admin/users/${user.userId}/sessions`, { token: adminToken })).status).toBe(204);
    expect((await authenticate(app.url, user.accessToken)).status).toBe(401);
    expect((await refresh(app.url, user.refreshToken)).status).toBe(401);
  }, 30_000);

  // Not "down" but unreachable: a frozen server (or a network partition) keeps the pooled
  // connections open and answers nothing, so only a client-side timeout can end the request.
  it('answers register/login 503 within the budget while PostgreSQL is frozen, and recovers after SIGCONT', async () => {
    const user = await register(app.url);
    // Use the pool so that its connections are open when the server freezes.
    await login(app.url, user);
    pg.freeze();
    try {
      const results: string[] = [];
      for (const [what, body] of [
        ['login', { email: user.email, password: PASSWORD }],
        ['register', { email: uniqueEmail(), password: PASSWORD }],
      ] as const) {
        const path = what === 'login' ? '/login' : '/register';
        let response: Exchange | undefined;
        try {
          response = await request(app.url, 'POST', path, { body, timeoutMs: 5_000 });
        } catch (error) {
          results.push(`${what}: ${(error as Error).message}`);
          continue;
        }
        results.push(`${what}: ${response.status} in ${response.ms.toFixed(0)}ms`);
      }
      expect((await authenticate(app.url, user.accessToken)).status).toBe(200);
      report(`PostgreSQL frozen: ${results.join('; ')}`);
      expect(results, `with PostgreSQL frozen: ${results.join('; ')}`).toEqual([expect.stringMatching(/^login: 503 in \d+ms$/), expect.stringMatching(/^register: 503 in \d+ms$/)]);
      for (const line of results) expect(Number(/in (\d+)ms/.exec(line)?.[1])).toBeLessThan(DATABASE_BUDGET_MS);
    } finally {
      pg.thaw();
    }
    const recoveryMs = await pollUntil(async () => (await request(app.url, 'POST', '/login', { body: { email: user.email, password: PASSWORD } })).status === 200, 10_000, 100);
    report(`PostgreSQL thawed: login worked again after ${recoveryMs.toFixed(0)} ms`);
  }, 45_000);

  it('with PostgreSQL frozen, the queries that wait for an answer are bounded: past the cap a new one is refused at once, never sent', async () => {
    const store = createPostgresUserStore({ url: pg.url, poolSize: 2, connectTimeoutMs: 300, maxWaiting: 5 });
    onTestFinished(() => store.close());
    await store.ping();
    pg.freeze();
    // A flood (of logins' lookups, /me, /health/ready): 5 queries go to the pool and wait past
    // their deadline, the rest are refused before they are sent.
    const queries = [() => store.ping(), () => store.findByEmail(uniqueEmail()), () => store.findById(randomUUID())];
    const outcomes = await Promise.all(Array.from({ length: 21 }, (_, i) => timed(() => queries[i % 3]!().then(() => 'answered', (error: unknown) => error))));
    const refused = outcomes.filter(({ value }) => value instanceof UnavailableError && String(value.cause).includes('still waiting'));
    const timedOut = outcomes.filter(({ value }) => value instanceof UnavailableError && !refused.some((other) => other.value === value));
    report(`PostgreSQL frozen, 21 queries at once with 5 allowed to wait: ${refused.length} refused (max ${Math.max(...refused.map(({ ms }) => ms)).toFixed(0)} ms), ${timedOut.length} past their deadline`);
    expect(refused).toHaveLength(16);
    expect(timedOut).toHaveLength(5);
    for (const { ms } of refused) expect(ms).toBeLessThan(250);
    // Their deadline has passed, but they still wait in the driver: still no room.
    const again = await store.findByEmail(uniqueEmail()).then(() => 'answered', (error: unknown) => String((error as UnavailableError).cause));
    expect(again).toContain('still waiting');
    // The audit trail's inserts, one after another as its writer sends them: once 4 wait past
    // their deadline, a retry is not sent.
    const row = { occurredAt: new Date(), event: 'login', userId: null, sessionId: null, ip: null, details: {} };
    const inserts = [];
    for (let i = 0; i < 5; i++) inserts.push(await timed(() => store.insertAuditEvents([row]).catch((error: unknown) => error)));
    expect(inserts.map(({ value }) => String((value as UnavailableError).cause))).toEqual([
      ...Array(4).fill(expect.stringContaining('no answer within 300 ms')),
      expect.stringContaining('still waiting'),
    ]);
    expect(inserts[4]!.ms).toBeLessThan(250);
    // The frozen server dies: every query still in the driver fails now. A refused one must not
    // be among them (sent anyway, its failure would reach no handler and fail this run).
    const server = pg.process().pid;
    const killed = [server, ...childPids(server)];
    for (const pid of killed) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    // Every backend gone (or a zombie), so none holds the old shared memory when it starts again.
    await pollUntil(async () => !pg.process().running() && killed.every(exited), 10_000);
    pg.thaw();
    await pg.start();
    await pollUntil(() => store.ping().then(() => true, () => false), 10_000, 100);
  }, 40_000);
});

