import { beforeAll, describe, expect, it } from 'vitest';
import { call, PASSWORD, registerUser, testCluster, type TestInstance } from '../helpers/test-app.js';

describe('GET /metrics', () => {
  let app: TestInstance;
  beforeAll(async () => {
    app = await (await testCluster()).start();
  });

  const sample = (text: string, name: string, labels: string) => {
    const line = text.split('\n').find((row) => row.startsWith(`${name}{${labels}}`));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  };

  it('counts authenticate, refresh and login outcomes, and request durations per route', async () => {
    const user = await registerUser(app.url);
    await call(app.url, 'GET', '/authenticate', { token: user.accessToken });
    await call(app.url, 'GET', '/authenticate');
    await call(app.url, 'GET', '/authenticate', { token: 'a.b.c' });
    const rotated = await call(app.url, 'POST', '/refresh', { body: { refresh_token: user.refreshToken } });
    await call(app.url, 'POST', '/refresh', { body: { refresh_token: user.refreshToken } });
    await call(app.url, 'POST', '/refresh', { body: { refresh_token: 'rt1.forged' } });
    await call(app.url, 'POST', '/login', { body: { email: user.email, password: PASSWORD } });
    await call(app.url, 'POST', '/login', { body: { email: user.email, password: 'wrong password' } });
    // A route's own 404 counts under the route; an unknown path or method under `unmatched`.
    const unknownSession = await call(app.url, 'DELETE', '/sessions/00000000-0000-4000-8000-000000000000', { token: user.accessToken });
    expect(unknownSession.status).toBe(404);
    expect((await call(app.url, 'GET', '/nope')).status).toBe(404);
    expect((await call(app.url, 'GET', '/login')).status).toBe(405);
    expect((await call(app.url, 'GET', '/me')).status).toBe(401);
    // Any method Node parses: one label for all but the API's own.
    for (const method of ['PROPFIND', 'MKCALENDAR']) expect((await call(app.url, method, '/nope')).status).toBe(404);
    expect((await call(app.url, 'PROPFIND', '/authenticate')).status).toBe(401);
    expect(rotated.status).toBe(200);
    await app.deps.audit.flush();

    const response = await fetch(`${app.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(sample(text, 'jwt_authenticate_total', 'outcome="ok"')).toBe(1);
    expect(sample(text, 'jwt_authenticate_total', 'outcome="missing"')).toBe(2); // GET and PROPFIND
    expect(sample(text, 'jwt_authenticate_total', 'outcome="malformed"') + sample(text, 'jwt_authenticate_total', 'outcome="invalid"')).toBe(1);
    expect(sample(text, 'jwt_refresh_total', 'outcome="rotated"')).toBe(1);
    expect(sample(text, 'jwt_refresh_total', 'outcome="replayed"')).toBe(1);
    expect(sample(text, 'jwt_refresh_total', 'outcome="invalid"')).toBe(1);
    expect(sample(text, 'jwt_login_total', 'outcome="ok"')).toBe(1);
    expect(sample(text, 'jwt_login_total', 'outcome="invalid_credentials"')).toBe(1);
    expect(sample(text, 'jwt_http_request_duration_seconds_count', 'route="/authenticate",method="GET",status="200"')).toBe(1);
    expect(sample(text, 'jwt_http_request_duration_seconds_count', 'route="/refresh",method="POST",status="401"')).toBe(1);
    expect(sample(text, 'jwt_http_request_duration_seconds_count', 'route="/sessions/:id",method="DELETE",status="404"')).toBe(1);
    expect(sample(text, 'jwt_http_request_duration_seconds_count', 'route="unmatched",method="GET",status="404"')).toBe(1);
    expect(sample(text, 'jwt_http_request_duration_seconds_count', 'route="unmatched",method="GET",status="405"')).toBe(1);
    expect(sample(text, 'jwt_http_request_duration_seconds_count', 'route="/me",method="GET",status="401"')).toBe(1);
    expect(sample(text, 'jwt_http_request_duration_seconds_count', 'route="unmatched",method="other",status="404"')).toBe(2);
    expect(sample(text, 'jwt_http_request_duration_seconds_count', 'route="/authenticate",method="other",status="401"')).toBe(1);
    expect(text).not.toMatch(/PROPFIND|MKCALENDAR/);
    expect(text).toContain('jwt_password_hash_queue_depth');
    // The audit trail's counts, as its own stats give them (register, login, failed login: written).
    const audit = app.deps.audit.stats();
    expect(audit.written).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'jwt_audit_events_total', 'outcome="written"')).toBe(audit.written);
    expect(text).toContain('jwt_audit_events_total{outcome="dropped"} 0');
    expect(text).toMatch(/^jwt_audit_queue_depth 0$/m);
    expect(text).not.toContain(user.accessToken);
    // Exact mode keeps no revocation answers: no series for them.
    expect(text).not.toContain('jwt_cache_entries{cache="revocation_answers"}');
  });

  it("counts each cache's entries: a token and its answer from their second read, a salt per session; a logout drops its salt and the user's answers", async () => {
    const cached = await (await testCluster({ cache: { revocation: 'cached' } })).start();
    try {
      await expect.poll(() => (cached.deps.sessions as { isLive?: () => boolean }).isLive?.(), { timeout: 5_000 }).toBe(true);
      const entries = async () => {
        const text = await (await fetch(`${cached.url}/metrics`)).text();
        return ['access_tokens', 'session_salts', 'revocation_answers'].map((cache) => sample(text, 'jwt_cache_entries', `cache="${cache}"`));
      };
      const user = await registerUser(cached.url);
      await call(cached.url, 'GET', '/authenticate', { token: user.accessToken });
      expect(await entries()).toEqual([0, 1, 0]);
      expect((await call(cached.url, 'GET', '/authenticate', { token: user.accessToken })).status).toBe(200);
      expect((await entries())[0]).toBe(1);
      // The answer is remembered at this read unless a heartbeat was missed meanwhile (the cache
      // then starts empty again): read until it is.
      await expect
        .poll(async () => {
          expect((await call(cached.url, 'GET', '/authenticate', { token: user.accessToken })).status).toBe(200);
          return entries();
        })
        .toEqual([1, 1, 1]);
      expect((await call(cached.url, 'POST', '/logout', { token: user.accessToken })).status).toBe(204);
      expect(await entries()).toEqual([1, 0, 0]);
    } finally {
      await cached.stop();
    }
  });

  it('forgets a salt when this instance logs its session out (by refresh token, or DELETE /sessions/:id), or two access lifetimes after it was set', async () => {
    const short = await (await testCluster({ auth: { access_lifetime: '2s', clock_tolerance: '0s' } })).start();
    try {
      const salts = async () => sample(await (await fetch(`${short.url}/metrics`)).text(), 'jwt_cache_entries', 'cache="session_salts"');
      const user = await registerUser(short.url);
      const login = async () => (await call(short.url, 'POST', '/login', { body: { email: user.email, password: PASSWORD } })).body as { refresh_token: string; session_id: string };
      const [second, third] = [await login(), await login()];
      expect(await salts()).toBe(3);
      expect((await call(short.url, 'POST', '/logout', { body: { refresh_token: second.refresh_token } })).status).toBe(204);
      expect(await salts()).toBe(2);
      const session = await call(short.url, 'POST', '/refresh', { body: { refresh_token: third.refresh_token } });
      const token = (session.body as { access_token: string }).access_token;
      expect((await call(short.url, 'DELETE', `/sessions/${user.sessionId}`, { token })).status).toBe(204);
      expect(await salts()).toBe(1);
      // The last salt is 4 s old by now: the next one set (a new session) takes it out.
      await new Promise((resolve) => setTimeout(resolve, 4_100));
      await login();
      expect(await salts()).toBe(1);
    } finally {
      await short.stop();
    }
  });
});
