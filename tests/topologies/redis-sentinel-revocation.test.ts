import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { CleanupStack } from '../../scripts/cluster/cleanup.js';
import { redisCli } from '../../scripts/cluster/redis.js';
import { type LocalRedisSentinel, startRedisSentinel } from '../../scripts/cluster/redis-sentinel.js';
import { ConfigError } from '../../src/config/loader.js';
import { configSchema, revocationReplicas } from '../../src/config/schema.js';
import { closeRedis, connectRedis } from '../../src/sessions/redis-connection.js';
import { startReplica } from '../helpers/redis-replica.js';
import { call, registerUser, stopTestInstances, testCluster, type TestInstance } from '../helpers/test-app.js';

/**
 * On Sentinel a revocation is answered only once a replica holds it (WAIT), so a failover that
 * promotes that replica cannot bring the revoked session back. When no replica acknowledges in
 * time the answer is 503 (retry), while the revocation already holds on the master.
 */
const cleanup = new CleanupStack();
// The instances first, while the servers they use are still up.
afterAll(async () => {
  await stopTestInstances();
  await cleanup.run();
});

describe('revocations on Redis Sentinel wait for a replica', () => {
  let group: LocalRedisSentinel;
  let one: TestInstance;
  let two: TestInstance;

  beforeAll(async () => {
    group = await startRedisSentinel(cleanup);
    const app = await testCluster({
      cache: { url: undefined, sentinel: { name: group.name, nodes: group.nodes }, command_timeout: '500ms' },
      auth: { max_sessions: 2 },
    });
    expect(revocationReplicas(app.config.cache)).toBe(1);
    [one, two] = [await app.start(), await app.start()];
  }, 45_000);

  it('with the replica stopped, revocations answer 503 but hold on the master; once it is back they answer 204', async () => {
    const user = await registerUser(one.url);
    const other = await call(one.url, 'POST', '/login', { body: { email: user.email, password: user.password } });
    expect(other.status).toBe(200);
    group.replica.process.signal('SIGSTOP');
    try {
      const started = performance.now();
      const logout = await call(one.url, 'POST', '/logout', { token: user.accessToken });
      expect(logout).toMatchObject({ status: 503, body: { error: 'unavailable' } });
      expect(logout.headers.get('retry-after')).toBe('1');
      expect(performance.now() - started).toBeLessThan(2_000);
      const logoutAll = await call(one.url, 'POST', '/logout-all', { token: other.body?.access_token as string });
      expect(logoutAll.status).toBe(503);
      // Not acknowledged by a replica, yet in force on the master.
      expect((await call(one.url, 'GET', '/authenticate', { token: user.accessToken })).status).toBe(401);
      expect((await call(one.url, 'GET', '/authenticate', { token: other.body?.access_token as string })).status).toBe(401);
    } finally {
      group.replica.process.signal('SIGCONT');
    }
    // The client's retry: idempotent, and acknowledged now.
    await expect.poll(async () => (await call(one.url, 'POST', '/logout', { token: user.accessToken })).status, { timeout: 10_000 }).toBe(204);
  });

  it('a logout retried on another instance waits for the replica too, though there is nothing left to end', async () => {
    const user = await registerUser(one.url);
    group.replica.process.signal('SIGSTOP');
    try {
      const body = { refresh_token: user.refreshToken };
      expect((await call(one.url, 'POST', '/logout', { body })).status).toBe(503);
      // The session is gone on the master: the retry ends nothing, and WAIT alone would answer for
      // instance two's own earlier writes, not for instance one's.
      expect((await call(two.url, 'POST', '/logout', { body })).status).toBe(503);
      expect((await call(two.url, 'POST', '/revoke', { body: { token: user.refreshToken } })).status).toBe(503);
    } finally {
      group.replica.process.signal('SIGCONT');
    }
    await expect.poll(async () => (await call(two.url, 'POST', '/logout', { body: { refresh_token: user.refreshToken } })).status, { timeout: 10_000 }).toBe(204);
  });

  it('logouts with refresh tokens of no session (anyone can make one) asked for together share a WAIT: a flood while the replica lags does not queue one blocking WAIT each ahead of real revocations', async () => {
    const user = await registerUser(one.url);
    const forged = () => `rt1.${randomBytes(36).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
    const masterPort = await group.masterPort();
    const waits = async () => Number(/^cmdstat_wait:calls=(\d+)/m.exec(await redisCli(masterPort, ['INFO', 'commandstats']))?.[1] ?? 0);
    const before = await waits();
    group.replica.process.signal('SIGSTOP');
    try {
      const answers = await Promise.all(Array.from({ length: 200 }, () => call(one.url, 'POST', '/logout', { body: { refresh_token: forged() } })));
      expect(new Set(answers.map((answer) => answer.status))).toEqual(new Set([503]));
    } finally {
      group.replica.process.signal('SIGCONT');
    }
    // A real logout, on the same connection behind whatever the flood left there.
    await expect.poll(async () => (await call(one.url, 'POST', '/logout', { token: user.accessToken })).status, { timeout: 10_000 }).toBe(204);
    expect((await call(two.url, 'GET', '/authenticate', { token: user.accessToken })).status).toBe(401);
    // One WAIT each would be over 200 (each blocking the connection for up to 250 ms while the
    // replica is stopped); shared, a few per 250 ms of the flood.
    expect(await waits() - before).toBeLessThanOrEqual(20);
  });

  it('a revocation replayed together many times (no limit on /revoke; a token of one\'s own will do) shares WAITs too: the replays do not queue one blocking WAIT each ahead of real revocations', async () => {
    const [user, other] = [await registerUser(one.url), await registerUser(one.url)];
    const revoke = { body: { token: user.accessToken, token_type_hint: 'access_token' } };
    expect((await call(one.url, 'POST', '/revoke', revoke)).status).toBe(200);
    const masterPort = await group.masterPort();
    const waits = async () => Number(/^cmdstat_wait:calls=(\d+)/m.exec(await redisCli(masterPort, ['INFO', 'commandstats']))?.[1] ?? 0);
    const before = await waits();
    group.replica.process.signal('SIGSTOP');
    try {
      const answers = await Promise.all(Array.from({ length: 200 }, () => call(one.url, 'POST', '/revoke', revoke)));
      expect(new Set(answers.map((answer) => answer.status))).toEqual(new Set([503]));
    } finally {
      group.replica.process.signal('SIGCONT');
    }
    await expect.poll(async () => (await call(one.url, 'POST', '/logout', { token: other.accessToken })).status, { timeout: 10_000 }).toBe(204);
    expect((await call(two.url, 'GET', '/authenticate', { token: other.accessToken })).status).toBe(401);
    expect((await call(two.url, 'GET', '/authenticate', { token: user.accessToken })).status).toBe(401);
    // One WAIT each would be over 200 (130 were counted so); shared, a few per 250 ms of the flood.
    expect(await waits() - before).toBeLessThanOrEqual(50);
  });

  it('a second replica stops the start of an instance whose revocation_replicas is unset (Sentinel waits for 1: the promoted one may not hold a revocation); 2 starts', async ({ onTestFinished }) => {
    const extra = new CleanupStack();
    onTestFinished(() => extra.run());
    const masterPort = await group.masterPort();
    await startReplica(expect, extra, masterPort, { connected: 2 });
    const cache = configSchema.parse({ cache: { sentinel: { name: group.name, nodes: group.nodes } } }).cache;
    const logger = pino({ level: 'silent' });
    await expect(connectRedis(cache, { logger })).rejects.toThrow(
      new ConfigError(
        `redis at 127.0.0.1:${masterPort} has 2 replicas and revocations wait for 1: a failover may promote one that missed the last revocations, which would make revoked tokens valid again; set cache.revocation_replicas: 2 (revocations answer once every replica holds them), or fewer (0 for none) to accept the risk`,
      ),
    );
    await closeRedis(await connectRedis({ ...cache, revocation_replicas: 2 }, { logger }));
  });

  it('with the master full (maxmemory), revocations complete and are acknowledged; a login is refused', async () => {
    const [user, other, revoked] = [await registerUser(one.url), await registerUser(one.url), await registerUser(one.url)];
    await redisCli(group.master.port, ['CONFIG', 'SET', 'maxmemory', '1']);
    try {
      expect((await call(one.url, 'POST', '/login', { body: { email: user.email, password: user.password } })).status).toBe(503);
      expect((await call(one.url, 'POST', '/logout', { token: user.accessToken })).status).toBe(204);
      expect((await call(one.url, 'POST', '/logout-all', { token: other.accessToken })).status).toBe(204);
      expect((await call(one.url, 'POST', '/revoke', { body: { token: revoked.accessToken } })).status).toBe(200);
      for (const token of [user.accessToken, other.accessToken, revoked.accessToken]) {
        expect((await call(two.url, 'GET', '/authenticate', { token })).status).toBe(401);
      }
      // A refresh token of an ended session revokes nothing (anyone can send one, for any user
      // id): its acknowledgement mark is an ordinary write, refused while Redis is full.
      expect((await call(one.url, 'POST', '/logout', { body: { refresh_token: user.refreshToken } })).status).toBe(503);
    } finally {
      await redisCli(group.master.port, ['CONFIG', 'SET', 'maxmemory', '0']);
    }
  });

  /** `jwt_refresh_total{outcome}` of instance one. */
  const refreshes = async (outcome: string) => {
    const text = await (await fetch(`${one.url}/metrics`)).text();
    const line = text.split('\n').find((entry) => entry.startsWith(`jwt_refresh_total{outcome="${outcome}"} `));
    return Number(line?.split(' ')[1] ?? Number.NaN);
  };

  it('a token family ended for reuse is acknowledged by a replica too (503 until it is)', async () => {
    const user = await registerUser(one.url);
    const rotated = await call(one.url, 'POST', '/refresh', { body: { refresh_token: user.refreshToken } });
    expect(rotated.status).toBe(200);
    const next = await call(one.url, 'POST', '/refresh', { body: { refresh_token: rotated.body?.refresh_token as string } });
    expect(next.status).toBe(200);
    group.replica.process.signal('SIGSTOP');
    try {
      // Two generations back: reuse. The family ends on the master, and the answer waits for a replica.
      const [reusesBefore, outagesBefore] = [await refreshes('reused'), await refreshes('unavailable')];
      const reused = await call(one.url, 'POST', '/refresh', { body: { refresh_token: user.refreshToken } });
      expect(reused).toMatchObject({ status: 503, body: { error: 'unavailable' } });
      // Counted (and logged, audited) as a reuse, once, not lost to the 503 as an outage.
      expect(await refreshes('reused')).toBe(reusesBefore + 1);
      expect(await refreshes('unavailable')).toBe(outagesBefore);
      expect((await call(one.url, 'POST', '/refresh', { body: { refresh_token: next.body?.refresh_token as string } })).status).toBe(401);
    } finally {
      group.replica.process.signal('SIGCONT');
    }
    await expect.poll(async () => (await call(one.url, 'POST', '/refresh', { body: { refresh_token: user.refreshToken } })).status, { timeout: 10_000 }).toBe(401);
    expect((await call(one.url, 'GET', '/authenticate', { token: next.body?.access_token as string })).status).toBe(401);
  });

  it('a session evicted by max_sessions at a login is acknowledged by a replica too (503 until it is, retries included; the new session is undone)', async () => {
    const user = await registerUser(one.url);
    const credentials = { body: { email: user.email, password: user.password } };
    const second = await call(one.url, 'POST', '/login', credentials);
    expect(second.status).toBe(200);
    group.replica.process.signal('SIGSTOP');
    try {
      // A third session evicts the first (max_sessions 2): on the master at once, unacknowledged.
      const third = await call(one.url, 'POST', '/login', credentials);
      expect(third).toMatchObject({ status: 503, body: { error: 'unavailable' } });
      expect((await call(one.url, 'GET', '/authenticate', { token: user.accessToken })).status).toBe(401);
      // The retry evicts nothing new, yet waits for the eviction still pending.
      expect((await call(one.url, 'POST', '/login', credentials)).status).toBe(503);
    } finally {
      group.replica.process.signal('SIGCONT');
    }
    // The refused logins left no session behind, so the retry evicts nothing more and goes through
    // once the resumed replica has acknowledged the pending eviction (each refused try undoes its session).
    const deadline = Date.now() + 10_000;
    let retry = await call(one.url, 'POST', '/login', credentials);
    while (retry.status === 503 && Date.now() < deadline) {
      await sleep(100);
      retry = await call(one.url, 'POST', '/login', credentials);
    }
    expect(retry.status).toBe(200);
    const listed = await call(one.url, 'GET', '/sessions', { token: retry.body?.access_token as string });
    expect((listed.body?.sessions as unknown[]).length).toBe(2);
    expect((await call(one.url, 'GET', '/authenticate', { token: second.body?.access_token as string })).status).toBe(200);
  });
});
