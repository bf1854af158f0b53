import { type AddressInfo, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, type ClusterInstance, type ExitStatus, startCluster } from '../../scripts/cluster/cluster.js';
import { freePort } from '../../scripts/cluster/free-port.js';
import { renderBalancerConf } from '../../scripts/cluster/nginx-conf.js';
import { rawSocket } from '../helpers/raw-socket.js';
import { freshDatabase, testRedisUrl, uniquePrefix } from '../helpers/services.js';
import { call, PASSWORD, registerUser } from '../helpers/test-app.js';
import { type EchoUpstream, startEchoUpstream } from './echo-upstream.js';
import { type Gateway, startGateway, startLocalNginx } from './gateway.js';
import { runLoad } from './load.js';

// Three real instances behind a real nginx on loopback, sharing the global setup's Redis and PostgreSQL.
// The tests run in order and change the cluster: one instance is killed, one drained, one added.
let cluster: Cluster;

const LOAD = { concurrency: 8, durationMs: 3000 } as const;
const SHUTDOWN_GRACE_MS = 3000;

function instance(index: number): ClusterInstance {
  const found = cluster.instances[index];
  if (!found) throw new Error(`no instance #${index}`);
  return found;
}

/** An answer nginx made itself: no instance's X-Instance-Id (the service answers the same error codes). */
function fromNginx(response: { headers: Headers }): void {
  expect(response.headers.get('x-instance-id')).toBeNull();
}

/** `request` sent raw gets nginx's own refusal: `status`, the API's JSON error `error`, no instance's header. */
async function expectNginxRefusal(base: string, request: string, status: number, error: string): Promise<string> {
  const answer = await rawSocket(base, request);
  const label = request.slice(0, 40);
  expect(answer.status, label).toBe(status);
  expect(answer.head, label).toMatch(/^content-type: application\/json; charset=utf-8$/im);
  expect(answer.head, label).not.toMatch(/^x-instance-id:/im);
  expect(JSON.parse(answer.body), label).toEqual({ error, error_description: expect.any(String) });
  return answer.head;
}

/** The headers of every instance's answer, each once: npm run cluster's nginx (as deploy/nginx.conf) gives its own answers these too. */
const ANSWER_HEADERS = [/^x-request-id: [\w.:-]{1,128}$/gim, /^cache-control: no-store$/gim, /^x-content-type-options: nosniff$/gim, /^x-frame-options: DENY$/gim, /^referrer-policy: no-referrer$/gim];

/** `head` (raw, or a fetch response's headers, where a header sent twice is one joined value) holds each of ANSWER_HEADERS once. */
function expectAnswerHeaders(head: string | { headers: Headers }, label: string): void {
  const text = typeof head === 'string' ? head : [...head.headers].map(([name, value]) => `${name}: ${value}`).join('\r\n');
  for (const header of ANSWER_HEADERS) expect(text.match(header), `${label}: ${header.source}`).toHaveLength(1);
}

function instanceOf(response: { headers: Headers }): string {
  return response.headers.get('x-instance-id') ?? '?';
}

/** A bounded /authenticate load through nginx with a live token; `during` runs one second in. */
async function authenticateLoadWhile(during: () => Promise<void>) {
  const user = await registerUser(cluster.url);
  const load = runLoad({ url: cluster.url, path: '/authenticate', headers: { authorization: `Bearer ${user.accessToken}` }, ...LOAD });
  await sleep(1000);
  await during();
  return load;
}

beforeAll(async () => {
  cluster = await startCluster({
    instances: 3,
    port: 0,
    redisUrl: testRedisUrl(),
    databaseUrl: await freshDatabase(),
    keyPrefix: uniquePrefix(),
    shutdownGrace: `${SHUTDOWN_GRACE_MS}ms`,
    rateLimits: false, // the load below comes from one address; limits have their own tests
  });
});

afterAll(async () => {
  await cluster?.stop();
});

describe('3 instances behind nginx', () => {
  it('register, login, refresh, authenticate and logout spread over the instances and act as one service', async () => {
    const seen = new Set<string>();
    const user = await registerUser(cluster.url);

    const logins = [];
    for (let i = 0; i < 3; i += 1) {
      const login = await call(cluster.url, 'POST', '/login', { body: { email: user.email, password: PASSWORD } });
      expect(login.status).toBe(200);
      seen.add(instanceOf(login));
      logins.push(String(login.body?.['access_token']));
    }

    for (const token of [user.accessToken, ...logins]) {
      for (let i = 0; i < 3; i += 1) {
        const auth = await call(cluster.url, 'GET', '/authenticate', { token });
        expect(auth.status).toBe(200);
        expect(auth.headers.get('x-user-id')).toBe(user.userId);
        seen.add(instanceOf(auth));
      }
    }

    // A rotation chain: each refresh token is issued by one instance and redeemed through nginx.
    let refreshToken = user.refreshToken;
    for (let i = 0; i < 3; i += 1) {
      const refreshed = await call(cluster.url, 'POST', '/refresh', { body: { refresh_token: refreshToken } });
      expect(refreshed.status).toBe(200);
      seen.add(instanceOf(refreshed));
      refreshToken = String(refreshed.body?.['refresh_token']);
      expect((await call(cluster.url, 'GET', '/authenticate', { token: String(refreshed.body?.['access_token']) })).status).toBe(200);
    }

    const [first] = logins;
    const logout = await call(cluster.url, 'POST', '/logout', { token: first });
    expect(logout.status).toBe(204);
    seen.add(instanceOf(logout));
    for (let i = 0; i < 3; i += 1) {
      const after = await call(cluster.url, 'GET', '/authenticate', { token: first });
      expect(after.status).toBe(401);
      seen.add(instanceOf(after));
    }

    expect([...seen].sort()).toEqual(['jwt-1', 'jwt-2', 'jwt-3']);
  });

  // Tells a fix from none only where nginx starts as root (CI does): its workers then run as nobody.
  it('a body larger than nginx\'s default buffer (8 KiB) reaches the service: its JSON answer, not nginx\'s 500 (root\'s nginx workers cannot write temp files in a private dir)', async () => {
    const response = await call(cluster.url, 'POST', '/login', { body: { email: 'big@example.test', password: 'x'.repeat(12_000) } });
    expect(response).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });

  it("nginx's own refusals answer in the API's JSON; /metrics is not public; an HTTP/1.0 health check without Host gets its 200", async () => {
    const tooLarge = await call(cluster.url, 'POST', '/login', { body: { email: 'big@example.test', password: 'x'.repeat(20_000) } });
    expect(tooLarge).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });
    fromNginx(tooLarge);
    expectAnswerHeaders(tooLarge, '413');
    // A header line past nginx's default 8 KiB buffer reaches the service; one past 16 KiB is nginx's JSON 431.
    expect((await call(cluster.url, 'GET', '/ping', { headers: { 'x-big': 'a'.repeat(10_000) } })).status).toBe(200);
    const headerTooLarge = await call(cluster.url, 'GET', '/ping', { headers: { 'x-big': 'a'.repeat(20_000) } });
    expect(headerTooLarge).toMatchObject({ status: 431, body: { error: 'headers_too_large' } });
    fromNginx(headerTooLarge);
    expectAnswerHeaders(headerTooLarge, '431');
    // The service answers /metrics/ as /metrics (strict: false), so nginx refuses every path below it.
    for (const path of ['/metrics', '/metrics/', '//metrics', '/%6Detrics/']) {
      const metrics = await call(cluster.url, 'GET', path, { headers: { 'x-request-id': 'trace-metrics' } });
      expect(metrics, path).toMatchObject({ status: 404, body: { error: 'not_found' } });
      fromNginx(metrics);
      expectAnswerHeaders(metrics, path);
      expect(metrics.headers.get('x-request-id'), path).toBe('trace-metrics');
    }
    // nginx forwards it as HTTP/1.1, where a missing Host is a 400: its server_name is sent instead.
    const ping = await rawSocket(cluster.url, 'GET /ping HTTP/1.0\r\n\r\n');
    expect(ping.status).toBe(200);
    expect(JSON.parse(ping.body)).toEqual({ status: 'ok' });
  });

  it("requests nginx refuses before routing them answer in the API's JSON, not nginx's HTML page", async () => {
    const close = 'Host: x\r\nConnection: close\r\n\r\n';
    const refusals: [request: string, status: number, error: string][] = [
      [`GET /%zz HTTP/1.1\r\n${close}`, 400, 'invalid_request'],
      ['GARBAGE\r\n\r\n', 400, 'invalid_request'],
      // Sent straight to an instance this is 401 invalid_token; nginx refuses a second Authorization itself.
      [`GET /authenticate HTTP/1.1\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n${close}`, 400, 'invalid_request'],
      [`POST /login HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n${close}abc`, 400, 'invalid_request'],
      [`POST /login HTTP/1.1\r\nTransfer-Encoding: gzip\r\n${close}`, 400, 'invalid_request'],
      [`GET /ping HTTP/2.0\r\n${close}`, 400, 'invalid_request'],
      [`TRACE /login HTTP/1.1\r\n${close}`, 405, 'method_not_allowed'],
      [`GET /ping?${'q'.repeat(20_000)} HTTP/1.1\r\n${close}`, 414, 'uri_too_long'],
      [`GET /_nginx/400 HTTP/1.1\r\n${close}`, 404, 'not_found'],
    ];
    for (const [request, status, error] of refusals) expectAnswerHeaders(await expectNginxRefusal(cluster.url, request, status, error), request.slice(0, 40));
  });

  it('nginx passes a well-formed X-Request-Id through and makes one up otherwise', async () => {
    const given = await call(cluster.url, 'GET', '/ping', { headers: { 'x-request-id': 'trace-42' } });
    expect(given.headers.get('x-request-id')).toBe('trace-42');
    const made = await call(cluster.url, 'GET', '/ping', { headers: { 'x-request-id': 'bad id!' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f]{32}$/);
  });

  it("nginx's 503 when no instance answers: Retry-After and the headers of an instance's answers", async () => {
    // The only instance resets every connection (a port merely free could be taken by a test file running beside this one).
    const broken = createServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
    const upstreams = [`127.0.0.1:${(broken.address() as AddressInfo).port}`];
    const nginx = await startLocalNginx('jwt-nginx-down-', (listen, dir) => renderBalancerConf({ listen, dir, upstreams })).catch((error: unknown) => {
      broken.close();
      throw error;
    });
    try {
      const down = await call(nginx.url, 'GET', '/ping', { headers: { 'x-request-id': 'trace-503' } });
      expect(down).toMatchObject({ status: 503, body: { error: 'unavailable' } });
      fromNginx(down);
      expectAnswerHeaders(down, '503');
      expect(down.headers.get('x-request-id')).toBe('trace-503');
      expect(down.headers.get('retry-after')).toBe('1');
    } finally {
      await nginx.stop();
      broken.close();
    }
  });

  it("an instance's answers pass nginx with their own headers, none added (nginx adds them to its own answers only)", async () => {
    for (const request of ['GET /ping HTTP/1.1\r\n', 'GET /me HTTP/1.1\r\n', 'GET /nowhere HTTP/1.1\r\n']) {
      const answer = await rawSocket(cluster.url, `${request}Host: x\r\nX-Request-Id: trace-7\r\nConnection: close\r\n\r\n`);
      expect(answer.head, request).toMatch(/^x-instance-id: jwt-\d+$/im);
      expectAnswerHeaders(answer.head, request);
      expect(answer.head, request).toMatch(/^x-request-id: trace-7$/im);
      expect(answer.head, request).not.toMatch(/^retry-after:/im);
    }
  });

  it('a token and a refresh token issued by one instance work on every other, directly', async () => {
    const user = await registerUser(instance(0).url);
    for (const { url, id } of cluster.instances) {
      const auth = await call(url, 'GET', '/authenticate', { token: user.accessToken });
      expect(auth.status, id).toBe(200);
      expect(instanceOf(auth)).toBe(id);
    }
    let refreshToken = user.refreshToken;
    for (const { url } of [instance(1), instance(2), instance(0)]) {
      const refreshed = await call(url, 'POST', '/refresh', { body: { refresh_token: refreshToken } });
      expect(refreshed.status).toBe(200);
      refreshToken = String(refreshed.body?.['refresh_token']);
    }
  });

  it('a logout on one instance is seen by every instance on the next request', async () => {
    const user = await registerUser(cluster.url);
    for (const { url } of cluster.instances) expect((await call(url, 'GET', '/authenticate', { token: user.accessToken })).status).toBe(200);

    expect((await call(instance(0).url, 'POST', '/logout', { token: user.accessToken })).status).toBe(204);

    for (const { url, id } of cluster.instances) {
      const auth = await call(url, 'GET', '/authenticate', { token: user.accessToken });
      expect(auth.status, id).toBe(401);
      expect(instanceOf(auth)).toBe(id);
    }
    const refresh = await call(instance(2).url, 'POST', '/refresh', { body: { refresh_token: user.refreshToken } });
    expect(refresh.status).toBe(401);
  });
});

describe('failures under load', () => {
  it('kill -9 of one instance during /authenticate load: no client request fails', async () => {
    const victim = instance(0);
    const result = await authenticateLoadWhile(async () => {
      expect(await victim.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    });
    expect(result.failures).toEqual([]);
    expect(result.total).toBeGreaterThan(100);
    expect(result.byInstance.get(victim.id) ?? 0).toBeGreaterThan(0);
    expect(result.byInstance.get(instance(1).id) ?? 0).toBeGreaterThan(0);
  });

  it('SIGTERM of one instance during /authenticate and POST load: it drains, exits 0, and no client request fails', async () => {
    const victim = instance(1);
    let exit: ExitStatus | undefined;
    let drainMs = 0;
    // A POST nginx may retry once sent (as it does /refresh, /logout, /logout-all): one written
    // onto a pooled connection just as the stopping instance closes it goes to another instance.
    // (stopServer closes idle connections only after a while, so that /login and /register,
    // never retried once sent, rarely meet that race.)
    const posts = runLoad({ url: cluster.url, path: '/revoke', method: 'POST', body: { token: 'not-a-token' }, ...LOAD });
    const result = await authenticateLoadWhile(async () => {
      const started = Date.now();
      void victim.exited.then((status) => {
        exit = status;
        drainMs = Date.now() - started;
      });
      victim.stop('SIGTERM').catch(() => undefined);
    });
    await victim.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    // Its own drain ended it, not the SIGKILL a stop escalates to.
    expect(drainMs).toBeLessThan(SHUTDOWN_GRACE_MS + 1000);
    expect(result.failures).toEqual([]);
    expect(result.byInstance.get(victim.id) ?? 0).toBeGreaterThan(0);
    expect(result.byInstance.get(instance(2).id) ?? 0).toBeGreaterThan(0);
    const postResult = await posts;
    expect(postResult.failures).toEqual([]);
    expect(postResult.byInstance.get(victim.id) ?? 0).toBeGreaterThan(0);
  });

  it('a 4th instance added (nginx reloaded) receives traffic', async () => {
    const added = await cluster.addInstance();
    expect(added.id).toBe('jwt-4');
    const user = await registerUser(cluster.url);
    const result = await runLoad({
      url: cluster.url,
      path: '/authenticate',
      headers: { authorization: `Bearer ${user.accessToken}` },
      concurrency: 4,
      durationMs: 500,
    });
    expect(result.failures).toEqual([]);
    expect(result.byInstance.get('jwt-4') ?? 0).toBeGreaterThan(0);
    expect(result.byInstance.get('jwt-3') ?? 0).toBeGreaterThan(0);
  });
});

describe('gateway example (deploy/gateway): nginx auth_request in front of an API', () => {
  let api: EchoUpstream;
  let gateway: Gateway;

  beforeAll(async () => {
    api = await startEchoUpstream();
    gateway = await startGateway(new URL(cluster.url).host, api.address);
  });

  afterAll(async () => {
    await gateway?.stop();
    await api?.close();
  });

  it('passes a valid token with the identity headers, replacing client-sent copies', async () => {
    const user = await registerUser(cluster.url);
    const response = await call(gateway.url, 'GET', '/orders/7', {
      token: user.accessToken,
      headers: { 'x-user-id': 'admin', 'x-user-roles': 'admin', 'x-session-id': 'forged', 'x-forwarded-for': '203.0.113.9' },
    });
    expect(response.status).toBe(200);
    const headers = response.body?.['headers'] as Record<string, string>;
    expect(headers['x-user-id']).toBe(user.userId);
    expect(headers['x-user-roles']).toBe('user');
    expect(headers['x-session-id']).toBe(user.sessionId);
    // The gateway is the edge: a client-sent hop is dropped, not passed on to be believed.
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('answers 401 without a token, with a bad token and with a revoked token', async () => {
    const user = await registerUser(cluster.url);
    expect((await call(gateway.url, 'GET', '/orders')).status).toBe(401);
    expect((await call(gateway.url, 'GET', '/orders', { token: 'not.a.jwt' })).status).toBe(401);
    const tampered = `${user.accessToken.slice(0, -4)}AAAA`;
    expect((await call(gateway.url, 'GET', '/orders', { token: tampered })).status).toBe(401);

    expect((await call(gateway.url, 'GET', '/orders', { token: user.accessToken })).status).toBe(200);
    expect((await call(cluster.url, 'POST', '/logout', { token: user.accessToken })).status).toBe(204);
    const revoked = await call(gateway.url, 'GET', '/orders', { token: user.accessToken });
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('asks /authenticate with only what it reads: large client headers, a long URI or an oversized Authorization never become a 503', async () => {
    const user = await registerUser(cluster.url);
    // Each within nginx's limits (16 KiB a line, 64 KiB in all), together past the service's 16 KiB.
    const path = `/orders/${'p'.repeat(9_000)}`;
    const large = await call(gateway.url, 'GET', path, { token: user.accessToken, headers: { 'x-big': 'a'.repeat(9_000), 'x-big-2': 'b'.repeat(9_000) } });
    expect(large.status).toBe(200);
    expect(large.body).toMatchObject({ path, headers: { 'x-user-id': user.userId, 'x-big': 'a'.repeat(9_000) } });
    const oversized = await call(gateway.url, 'GET', '/orders', { headers: { authorization: `Bearer ${'x'.repeat(16_300)}` } });
    expect(oversized.status).toBe(401);
    expect(oversized.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });

  it("/auth/ reaches the service; nginx's own refusals there answer in the service's JSON", async () => {
    expect(await call(gateway.url, 'GET', '/auth/ping')).toMatchObject({ status: 200, body: { status: 'ok' } });
    // Header lines up to the service's 16 KiB reach it; longer ones get nginx's JSON 431.
    expect((await call(gateway.url, 'GET', '/auth/ping', { headers: { 'x-big': 'a'.repeat(10_000) } })).status).toBe(200);
    expect(await call(gateway.url, 'GET', '/auth/ping', { headers: { 'x-big': 'a'.repeat(20_000) } })).toMatchObject({ status: 431, body: { error: 'headers_too_large' } });
    for (const path of ['/auth/metrics', '/auth/metrics/']) {
      const metrics = await call(gateway.url, 'GET', path);
      expect(metrics, path).toMatchObject({ status: 404, body: { error: 'not_found' } });
      fromNginx(metrics);
    }
    // Refused before any location: the gateway's server-level pages, as deploy/nginx.conf's.
    // Past routing, /auth/'s own: a malformed chunked body.
    const refusals = [
      ['GET /auth/%zz HTTP/1.1\r\n', 400, 'invalid_request'],
      ['TRACE /auth/login HTTP/1.1\r\n', 405, 'method_not_allowed'],
      ['POST /auth/login HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n', 400, 'invalid_request', 'zz\r\n'],
    ] as const;
    for (const [request, status, error, body = ''] of refusals) {
      await expectNginxRefusal(gateway.url, `${request}Host: x\r\nConnection: close\r\n\r\n${body}`, status, error);
    }
    const tooLarge = await call(gateway.url, 'POST', '/auth/login', { body: { email: 'big@example.test', password: 'x'.repeat(20_000) } });
    expect(tooLarge).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });
    fromNginx(tooLarge);
    // No service behind it: nginx's 502 is the JSON 503.
    const unreachable = await startGateway(`127.0.0.1:${await freePort()}`, api.address);
    try {
      const down = await call(unreachable.url, 'GET', '/auth/ping');
      expect(down).toMatchObject({ status: 503, body: { error: 'unavailable' } });
      expect(down.headers.get('retry-after')).toBe('1');
    } finally {
      await unreachable.stop();
    }
  });

  it('never lets a client-sent X-User-Id reach the API', async () => {
    const user = await registerUser(cluster.url);
    expect((await call(gateway.url, 'GET', '/me', { token: user.accessToken, headers: { 'x-user-id': 'admin', x_user_id: 'admin' } })).status).toBe(200);
    const forged: Record<string, string>[] = [{ 'x-user-id': 'admin' }, { 'x-user-id': 'admin', x_user_id: 'admin' }];
    for (const headers of forged) {
      expect((await call(gateway.url, 'GET', '/admin', { headers })).status).toBe(401);
      expect((await call(gateway.url, 'GET', '/admin', { headers, token: 'bad' })).status).toBe(401);
    }
    expect(api.received.length).toBeGreaterThan(0);
    for (const received of api.received) {
      expect(received['x-user-id']).not.toBe('admin');
      expect(received['x_user_id']).toBeUndefined();
    }
  });
});
