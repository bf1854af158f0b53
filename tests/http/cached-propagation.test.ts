import { beforeAll, describe, expect, it } from 'vitest';
import { call, expectAccepted, PASSWORD, registerUser, testCluster, type TestInstance } from '../helpers/test-app.js';

/**
 * `cache.revocation: cached`, two instances: every kind of revocation made on one instance ends a
 * token whose answer the other has cached. Without the revoking script's publish, the other would
 * answer 200 from its cache for `revocation_cache_max_age` (10 s); here it must turn 401 within the
 * pub/sub delay and stay 401. (Logout, logout-all, /revoke and password changes are covered the
 * same way in tests/faults/redis-data-loss.test.ts.)
 */
describe('cached revocation, two instances: a warm cache on the other instance never outlives a revocation', () => {
  let one: TestInstance;
  let two: TestInstance;
  let adminToken: string;

  beforeAll(async () => {
    const cluster = await testCluster({ cache: { revocation: 'cached' }, auth: { max_sessions: 2, refresh_reuse_grace: '0s' } });
    one = await cluster.start();
    two = await cluster.start();
    const admin = await registerUser(one.url);
    await one.deps.users.setRoles(admin.userId, ['admin']);
    adminToken = (await call(one.url, 'POST', '/login', { body: { email: admin.email, password: PASSWORD } })).body?.access_token as string;
  });

  const authenticateOnTwo = async (token: string) => (await call(two.url, 'GET', '/authenticate', { token })).status;

  /** Cached on `two` (answered 200 twice, its cache live), then `revoke` on `one`: `two` refuses well within the max age and keeps refusing. */
  async function expectRevokedEverywhere(token: string, revoke: () => Promise<unknown>) {
    await expectAccepted(two.url, token);
    // Otherwise `two` reads Redis on every request, and the test would prove nothing about pub/sub.
    // (Polled: a stalled test process can miss a heartbeat, which turns it off for a moment.)
    await expect.poll(() => (two.deps.sessions as { isLive?: () => boolean }).isLive?.(), { timeout: 5_000 }).toBe(true);
    await revoke();
    // Well within the 10 s an answer may be cached: only the message explains it (how fast is the bench's g).
    await expect.poll(() => authenticateOnTwo(token), { interval: 5, timeout: 5_000 }).toBe(401);
    for (let i = 0; i < 5; i++) expect(await authenticateOnTwo(token)).toBe(401);
  }

  const asAdmin = (method: string, path: string, body?: unknown) => call(one.url, method, `/admin${path}`, { token: adminToken, body });

  it('admin disable', async () => {
    const user = await registerUser(one.url);
    await expectRevokedEverywhere(user.accessToken, async () => expect((await asAdmin('POST', `/users/${user.userId}/disable`)).status).toBe(200));
  });

  it('admin role change', async () => {
    const user = await registerUser(one.url);
    await expectRevokedEverywhere(user.accessToken, async () => expect((await asAdmin('PUT', `/users/${user.userId}/roles`, { roles: ['editor'] })).status).toBe(200));
  });

  it('admin revoke of all sessions, and of one', async () => {
    const user = await registerUser(one.url);
    await expectRevokedEverywhere(user.accessToken, async () => expect((await asAdmin('DELETE', `/users/${user.userId}/sessions`)).status).toBe(204));
    const other = await registerUser(one.url);
    await expectRevokedEverywhere(other.accessToken, async () => expect((await asAdmin('DELETE', `/users/${other.userId}/sessions/${other.sessionId}`)).status).toBe(204));
  });

  it('ending one of the caller’s own sessions (DELETE /sessions/:id)', async () => {
    const user = await registerUser(one.url);
    const second = await call(one.url, 'POST', '/login', { body: { email: user.email, password: PASSWORD } });
    await expectRevokedEverywhere(user.accessToken, async () =>
      expect((await call(one.url, 'DELETE', `/sessions/${user.sessionId}`, { token: second.body?.access_token as string })).status).toBe(204),
    );
  });

  it('a refresh token replayed after its rotation (reuse ends the session)', async () => {
    const user = await registerUser(one.url);
    const rotated = await call(one.url, 'POST', '/refresh', { body: { refresh_token: user.refreshToken } });
    expect(rotated.status).toBe(200);
    // No grace window here: the replay is reuse at once.
    await expectRevokedEverywhere(rotated.body?.access_token as string, async () =>
      expect((await call(one.url, 'POST', '/refresh', { body: { refresh_token: user.refreshToken } })).status).toBe(401),
    );
  });

  it('a login that evicts the oldest session past max_sessions', async () => {
    const user = await registerUser(one.url);
    await call(one.url, 'POST', '/login', { body: { email: user.email, password: PASSWORD } });
    await expectRevokedEverywhere(user.accessToken, async () =>
      expect((await call(one.url, 'POST', '/login', { body: { email: user.email, password: PASSWORD } })).status).toBe(200),
    );
  });
});
