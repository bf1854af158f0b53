import { monitorRedis, type RedisMonitor } from '../helpers/redis-monitor.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, registerUser, testCluster, type TestInstance } from '../helpers/test-app.js';

/** Long enough that a replay meant to land inside the grace always does, however busy the machine. */
const GRACE_MS = 30_000;
/** The grace of the one test that waits it out. */
const SHORT_GRACE_MS = 1000;

describe('refresh rotation over two instances sharing Redis', () => {
  let one: TestInstance;
  let two: TestInstance;
  let redisUrl: string;
  let keyPrefix: string;
  beforeAll(async () => {
    const cluster = await testCluster({ auth: { refresh_reuse_grace: `${GRACE_MS}ms` } });
    redisUrl = cluster.config.cache.url as string;
    keyPrefix = cluster.config.cache.key_prefix;
    [one, two] = await Promise.all([cluster.start(), cluster.start()]);
  });

  const refresh = (instance: TestInstance, token: string) => call(instance.url, 'POST', '/refresh', { body: { refresh_token: token } });
  const authenticate = (instance: TestInstance, token: string) => call(instance.url, 'GET', '/authenticate', { token });

  it('rotates a chain of generations, alternating instances', async () => {
    const user = await registerUser(one.url);
    let token = user.refreshToken;
    const seen = new Set([token]);
    for (let generation = 1; generation <= 5; generation += 1) {
      const response = await refresh(generation % 2 ? two : one, token);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.body?.session_id).toBe(user.sessionId);
      token = response.body?.refresh_token as string;
      expect(seen.has(token)).toBe(false);
      seen.add(token);
      expect((await authenticate(one, response.body?.access_token as string)).status).toBe(200);
    }
  });

  it('answers a replay inside the grace window with the byte-identical successor', async () => {
    const user = await registerUser(one.url);
    const first = await refresh(one, user.refreshToken);
    const replay = await refresh(two, user.refreshToken);
    expect(replay.status).toBe(200);
    expect(replay.body?.refresh_token).toBe(first.body?.refresh_token);
    expect(replay.body?.access_token).not.toBe(first.body?.access_token);
    expect((await authenticate(two, replay.body?.access_token as string)).status).toBe(200);
    // The successor still rotates normally afterwards.
    expect((await refresh(one, first.body?.refresh_token as string)).status).toBe(200);
  });

  it('treats a replay after the grace window as reuse and revokes the whole family', async () => {
    const short = await testCluster({ auth: { refresh_reuse_grace: `${SHORT_GRACE_MS}ms` } });
    const [a, b] = await Promise.all([short.start(), short.start()]);
    const user = await registerUser(a.url);
    const next = await refresh(a, user.refreshToken);
    const access = next.body?.access_token as string;
    await new Promise((resolve) => setTimeout(resolve, SHORT_GRACE_MS + 300));
    expect(await refresh(b, user.refreshToken)).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
    expect((await refresh(a, next.body?.refresh_token as string)).status).toBe(401);
    expect((await authenticate(a, access)).status).toBe(401);
    expect((await authenticate(b, user.accessToken)).status).toBe(401);
  });

  it('treats a token two generations back as reuse, even inside the grace window', async () => {
    const user = await registerUser(one.url);
    const second = await refresh(one, user.refreshToken);
    const third = await refresh(two, second.body?.refresh_token as string);
    expect(third.status).toBe(200);
    expect((await refresh(one, user.refreshToken)).status).toBe(401);
    expect((await refresh(two, third.body?.refresh_token as string)).status).toBe(401);
    expect((await authenticate(one, third.body?.access_token as string)).status).toBe(401);
  });

  it('never revokes anything for a forged or altered refresh token', async () => {
    const user = await registerUser(one.url);
    const [prefix, body, mac] = user.refreshToken.split('.') as [string, string, string];
    const flipped = `${mac.slice(0, 10)}${mac[10] === 'A' ? 'B' : 'A'}${mac.slice(11)}`;
    // `one` remembers the session's salt (it started the session), `two` reads it from Redis.
    for (const forged of [`${prefix}.${body}.${flipped}`, `${prefix}.${body}.${'A'.repeat(43)}`, 'rt1.garbage', 'x'.repeat(100)]) {
      expect(await refresh(two, forged)).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
      expect(await refresh(one, forged)).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
    }
    expect((await authenticate(one, user.accessToken)).status).toBe(200);
    expect((await refresh(one, user.refreshToken)).status).toBe(200);
  });

  it('survives 50 parallel refreshes of one token spread over both instances', async () => {
    const user = await registerUser(one.url);
    const responses = await Promise.all(Array.from({ length: 50 }, (_, index) => refresh(index % 2 ? one : two, user.refreshToken)));
    const statuses = responses.map((response) => response.status);
    expect(statuses.every((status) => status === 200)).toBe(true);
    const successors = new Set(responses.map((response) => response.body?.refresh_token));
    expect(successors.size).toBe(1);
    const successor = responses[0]?.body?.refresh_token as string;
    expect((await refresh(two, successor)).status).toBe(200);
  });

  describe('session salts remembered per instance', () => {
    let monitor: RedisMonitor;
    beforeAll(async () => {
      monitor = await monitorRedis(redisUrl);
    });
    afterAll(() => monitor.close());

    /**
     * The commands Redis ran for `action` that touched this session's key; EVAL and EVALSHA both
     * as 'script' (which one runs depends on whether an earlier test loaded the script).
     */
    async function commandsOf(sessionId: string, action: () => Promise<unknown>): Promise<string[]> {
      // MONITOR's feed lags the replies: an ECHO marks where the action starts (so the login's
      // own script, still in the feed, is not counted) and another where it ends.
      const start = await monitor.mark(`start of ${sessionId}`);
      await action();
      const end = await monitor.mark(`end of ${sessionId}`);
      return monitor.commands
        .slice(start + 1, end)
        .filter((args) => args.some((arg) => arg.includes(sessionId)))
        .map((args) => (args[0] ?? '').toLowerCase())
        .map((name) => (name === 'eval' || name === 'evalsha' ? 'script' : name));
    }

    it('a refresh on an instance that knows the session reads nothing before its one rotation script', async () => {
      const user = await registerUser(one.url);
      const onSame = await commandsOf(user.sessionId, async () => {
        expect((await refresh(one, user.refreshToken)).status).toBe(200);
      });
      expect(onSame).toEqual(['script']);
      // The other instance has not seen this session: it reads the salt first, then remembers it.
      const next = (await refresh(one, user.refreshToken)).body?.refresh_token as string;
      const onOther = await commandsOf(user.sessionId, async () => {
        expect((await refresh(two, next)).status).toBe(200);
      });
      expect(onOther).toEqual(['hget', 'script']);
    });

    it('never refreshes a session ended through another instance, though its salt is remembered', async () => {
      const loggedOut = await registerUser(one.url);
      expect((await call(two.url, 'POST', '/logout', { body: { refresh_token: loggedOut.refreshToken } })).status).toBe(204);
      expect(await refresh(one, loggedOut.refreshToken)).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });

      const everywhere = await registerUser(one.url);
      expect((await call(two.url, 'POST', '/logout-all', { token: everywhere.accessToken })).status).toBe(204);
      expect(await refresh(one, everywhere.refreshToken)).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
      expect((await authenticate(one, everywhere.accessToken)).status).toBe(401);
    });

    it('lets the rotation script, not the remembered salt, decide: a salt changed in Redis refuses the refresh and revokes nothing', async () => {
      const user = await registerUser(one.url);
      const sessionKey = `${keyPrefix}{${user.userId}}:s:${user.sessionId}`;
      expect(await monitor.redis.hset(sessionKey, 'salt', 'another-salt')).toBe(0);
      expect(await refresh(one, user.refreshToken)).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
      expect(await monitor.redis.exists(sessionKey)).toBe(1);
      expect((await authenticate(one, user.accessToken)).status).toBe(200);
    });
  });

  it('requires refresh_token', async () => {
    expect(await call(one.url, 'POST', '/refresh', { body: {} })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await call(one.url, 'POST', '/refresh')).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });
});
