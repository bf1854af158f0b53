import { readdirSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { onFreePort } from '../../scripts/cluster/free-port.js';
import { TOKEN_REQUIRED } from '../../src/errors.js';
import { startMetricsServer } from '../../src/server.js';
import { rawSocket } from '../helpers/raw-socket.js';
import { call, PASSWORD, registerUser, testCluster, type TestInstance, uniqueEmail } from '../helpers/test-app.js';

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown> | null;
}

/** A request through `node:http`, which (unlike fetch) sends any URL and header size as given. */
function raw(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let parsed: Record<string, unknown> | null = null;
        try {
          parsed = text ? (JSON.parse(text) as Record<string, unknown>) : null;
        } catch {
          parsed = { raw: text };
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function expectHardened(response: RawResponse, cacheControl = 'no-store') {
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  expect(response.headers['x-frame-options']).toBe('DENY');
  expect(response.headers['referrer-policy']).toBe('no-referrer');
  expect(response.headers['x-request-id']).toMatch(/^[\w.:-]+$/);
  expect(response.headers['x-instance-id']).toBeTruthy();
  expect(response.headers['cache-control']).toBe(cacheControl);
}

const corsHeaders = (headers: IncomingHttpHeaders) => Object.keys(headers).filter((name) => name.startsWith('access-control-'));

describe('security headers on every kind of response (CORS off)', () => {
  let app: TestInstance;
  let token: string;
  beforeAll(async () => {
    app = await (await testCluster({ server: { body_limit: '1kb' } })).start();
    token = (await registerUser(app.url)).accessToken;
  });

  const json = { 'content-type': 'application/json' };
  it.each<[string, () => [string, string, Record<string, string>, string?], number, string?]>([
    ['/ping', () => ['GET', '/ping', {}], 200],
    ['/metrics', () => ['GET', '/metrics', {}], 200],
    ['/me', () => ['GET', '/me', { authorization: `Bearer ${token}` }], 200],
    ['/authenticate (fast path)', () => ['GET', '/authenticate', { authorization: `Bearer ${token}` }], 200],
    ['/authenticate without a token', () => ['POST', '/authenticate', {}], 401],
    ['/me without a token', () => ['GET', '/me', {}], 401, 'invalid_token'],
    ['malformed JSON', () => ['POST', '/login', json, '{'], 400, 'invalid_request'],
    ['an unknown path', () => ['GET', '/nope', {}], 404, 'not_found'],
    ['a wrong method', () => ['DELETE', '/login', {}], 405, 'method_not_allowed'],
    ['OPTIONS with CORS off', () => ['OPTIONS', '/login', { origin: 'https://app.example', 'access-control-request-method': 'POST' }], 405, 'method_not_allowed'],
    ['a body over body_limit', () => ['POST', '/login', json, JSON.stringify({ email: 'a@b.io', password: 'x'.repeat(2000) })], 413, 'payload_too_large'],
    ['a body that is not JSON', () => ['POST', '/login', { 'content-type': 'text/plain' }, 'hello'], 415, 'unsupported_media_type'],
    // Not read as if plain: a client that compressed it learns why at once.
    ['a body with a Content-Encoding', () => ['POST', '/login', { ...json, 'content-encoding': 'br' }, '{"email":"a@b.io","password":"x"}'], 415, 'unsupported_media_type'],
    ['a body with Content-Encoding: identity', () => ['POST', '/login', { ...json, 'content-encoding': 'identity' }, '{"email":"a@b.io"}'], 400, 'invalid_request'],
    ['a URL over max_url_length', () => ['GET', `/ping?q=${'x'.repeat(5000)}`, {}], 414, 'uri_too_long'],
    ['headers over max_header_size', () => ['GET', '/ping', { 'x-big': 'x'.repeat(20_000) }], 431, 'headers_too_large'],
    ['headers over max_header_size on /authenticate', () => ['GET', '/authenticate', { 'x-big': 'x'.repeat(20_000) }], 431, 'headers_too_large'],
    ['a URL over max_header_size', () => ['GET', `/ping?q=${'x'.repeat(20_000)}`, {}], 431, 'headers_too_large'],
    ['a bad Host header', () => ['GET', '/ping', { host: 'a b' }], 400, 'invalid_request'],
  ])('%s → %i', async (_name, build, status, error) => {
    const [method, path, headers, body] = build();
    const response = await raw(app.url, method, path, headers, body);
    expect(response.status).toBe(status);
    expectHardened(response);
    expect(corsHeaders(response.headers)).toEqual([]);
    if (error) {
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(response.body).toMatchObject({ error, error_description: expect.any(String) });
    }
  });

  it('token responses are no-store; JWKS is public and cacheable but hardened', async () => {
    const login = await raw(app.url, 'POST', '/register', json, JSON.stringify({ email: `h${Date.now()}@example.test`, password: 'correct horse battery staple' }));
    expect(login.status).toBe(201);
    expectHardened(login);
    const jwks = await raw(app.url, 'GET', '/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expectHardened(jwks, 'public, max-age=300');
  });

  it('a request without Host: /authenticate answers it (gateways get only 200/401/503), other paths 400 with the JSON error', async () => {
    const auth = await rawSocket(app.url, `GET /authenticate HTTP/1.1\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
    expect(auth.status).toBe(200);
    expect(JSON.parse(auth.body)).toMatchObject({ sub: expect.any(String) });
    const me = await rawSocket(app.url, 'GET /me HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(me.status).toBe(400);
    expect(JSON.parse(me.body)).toMatchObject({ error: 'invalid_request' });
  });

  /** `/ping` and `/me` sent raw with `head` after the request line: answered as if they named localhost. */
  async function expectAnsweredWithoutHost(version: string, head: string) {
    const ping = await rawSocket(app.url, `GET /ping ${version}\r\n${head}\r\n`);
    expect(ping.status).toBe(200);
    expect(JSON.parse(ping.body)).toEqual({ status: 'ok' });
    const me = await rawSocket(app.url, `GET /me ${version}\r\n${head}\r\n`);
    expect(me.status).toBe(401);
    expect(JSON.parse(me.body)).toMatchObject({ error: 'invalid_token' });
  }

  it('HTTP/1.0 needs no Host (RFC 9112 §3.2): a load balancer\'s bare health check gets its answer', async () => {
    await expectAnsweredWithoutHost('HTTP/1.0', '');
  });

  it('an empty Host is valid HTTP/1.1 (RFC 9112 §3.2): answered as a request naming localhost', async () => {
    await expectAnsweredWithoutHost('HTTP/1.1', 'Host:\r\nConnection: close\r\n');
    await expectAnsweredWithoutHost('HTTP/1.1', 'Host: \r\nConnection: close\r\n');
  });

  it('a method Node cannot parse: 401 on /authenticate (gateways turn a 400 into a 500), 400 elsewhere', async () => {
    const auth = await rawSocket(app.url, 'FOO /authenticate?x=1 HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(auth.status).toBe(401);
    expect(auth.head).toMatch(/\r\nWWW-Authenticate: Bearer\r\n/i);
    expect(JSON.parse(auth.body)).toMatchObject({ error: 'invalid_token' });
    const login = await rawSocket(app.url, 'FOO /login HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(login.status).toBe(400);
    expect(JSON.parse(login.body)).toMatchObject({ error: 'invalid_request' });
  });

  it('a request Node refuses at /authenticate with a token (a method it cannot parse, a raw byte in the path, a space before a colon, CONNECT, a malformed body): 401 invalid_token, saying the token was not checked', async () => {
    const requests = [
      `FOO /authenticate HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\n\r\n`,
      `GET /authenticate/\u00e9 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\n\r\n`,
      `GET /authenticate HTTP/1.1\r\nHost: a\r\nauthorization : Bearer ${token}\r\n\r\n`,
      `CONNECT /authenticate HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\n\r\n`,
    ];
    for (const request of requests) {
      const answer = await rawSocket(app.url, request);
      expect(answer.status, request).toBe(401);
      expect(answer.head).toMatch(/\r\nWWW-Authenticate: Bearer error="invalid_token"\r\n/i);
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_token', error_description: expect.stringMatching(/token was not checked$/) });
    }
    // A malformed body: the refused request is the one whose head Node read, not the bytes of its body.
    const chunked = await rawSocket(app.url, `POST /authenticate HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n\r\n`);
    expect(chunked.status).toBe(401);
    expect(chunked.head).toMatch(/\r\nWWW-Authenticate: Bearer error="invalid_token"\r\n/i);
    // Pipelined behind a request with a token, in one write: that token is not the refused request's.
    const pipelined = await rawSocket(app.url, `GET /ping HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\n\r\nFOO /authenticate HTTP/1.1\r\nHost: a\r\n\r\n`);
    expect(pipelined.status).toBe(200);
    expect(pipelined.text).toMatch(/\}HTTP\/1\.1 401 [^]*\r\nWWW-Authenticate: Bearer\r\n/);
    const without = await rawSocket(app.url, 'GET /authenticate/\u00e9 HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(without.head).toMatch(/\r\nWWW-Authenticate: Bearer\r\n/i);
    expect(JSON.parse(without.body)).toMatchObject({ error: 'invalid_token', error_description: TOKEN_REQUIRED });
  });

  it('a refused request whose client goes on sending gets its answer, and the connection is not reset at once', async () => {
    const { hostname, port } = new URL(app.url);
    const socket = connect({ port: Number(port), host: hostname, allowHalfOpen: true }, () => socket.write('FOO /login HTTP/1.1\r\nHost: a\r\n\r\n'));
    onTestFinished(() => void socket.destroy());
    let text = '';
    let failed: unknown;
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.on('error', (error) => (failed = error));
    await new Promise((resolve) => socket.once('connect', resolve));
    // More bytes every 50 ms for a second, after the request: read and dropped while the answer
    // lingers (2 s). A second by the clock: timers late on a loaded machine must not carry past it.
    const end = Date.now() + 1_000;
    while (Date.now() < end && failed === undefined) {
      socket.write('more bytes the parser has refused already\r\n');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(failed).toBeUndefined();
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
  });

  /** A whole `POST /register` of a new account, as raw bytes. */
  const registerRequest = () => {
    const body = JSON.stringify({ email: uniqueEmail(), password: PASSWORD });
    return `POST /register HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  };
  /** Holds every registration `ms` before it writes its user, until the test ends. */
  const holdRegistrations = (ms: number) => {
    const { users } = app.deps;
    const create = users.create;
    users.create = async (...args) => {
      await new Promise((wait) => setTimeout(wait, ms));
      return create(...args);
    };
    onTestFinished(() => void (users.create = create));
  };
  /**
   * Writes `bytes` on a fresh connection (then `more`, if given) and reads until the server closes
   * it (or resets it): the statuses of every answer that arrived, in order.
   */
  const pipelined = (bytes: string, more?: (socket: Socket) => Promise<void>) => {
    const { hostname, port } = new URL(app.url);
    return new Promise<number[]>((resolve) => {
      let text = '';
      const done = () => resolve([...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1])));
      const socket = connect(Number(port), hostname, () => {
        socket.write(bytes);
        void more?.(socket);
      });
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('error', done);
      socket.on('close', done);
    });
  };

  it('a malformed request pipelined behind one still being answered is answered after it: the first answer is not lost', async () => {
    const register = registerRequest();
    // The registration (carried out) is answered first, then the refused request: 201 (409 the
    // second time round, the account exists), then 400 or 431 and the connection closes.
    expect(await pipelined(`${register}FOO /login HTTP/1.1\r\nHost: a\r\n\r\n`)).toEqual([201, 400]);
    expect(await pipelined(`${register}GET /ping HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)).toEqual([409, 431]);
  });

  it('a malformed request pipelined behind two whole ones waits for both answers, in order', async () => {
    // The registration (second) is held, so the first answer goes while it still runs.
    holdRegistrations(200);
    expect(await pipelined(`GET /ping HTTP/1.1\r\nHost: a\r\n\r\n${registerRequest()}FOO /login HTTP/1.1\r\nHost: a\r\n\r\n`)).toEqual([200, 201, 400]);
  });

  it('while it waits, a refused pipelined request reads nothing more: later chunks are neither parsed nor answered', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    onTestFinished(() => void process.off('warning', onWarning));
    // The registration is held 300 ms, so every chunk below arrives while its answer is awaited.
    holdRegistrations(300);
    const statuses = await pipelined(`${registerRequest()}FOO / HTTP/1.1\r\n\r\n`, async (socket) => {
      // During the registration's work: chunks a failed parser would refuse one by one.
      for (let i = 0; i < 20 && !socket.destroyed; i++) {
        socket.write('GET /ping HTTP/1.1\r\nHost: a\r\n\r\n');
        await new Promise((wait) => setTimeout(wait, 2));
      }
    });
    expect(statuses).toEqual([201, 400]);
    // One wait per connection, not one listener per refused chunk (past 10, Node warns).
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('CONNECT (which Node keeps from the app) is answered, not closed without a word: 401 on /authenticate, 400 elsewhere', async () => {
    const auth = await rawSocket(app.url, 'CONNECT /authenticate HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(auth.status).toBe(401);
    expect(auth.head).toMatch(/\r\nWWW-Authenticate: Bearer\r\n/i);
    expect(auth.head).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/i);
    expect(JSON.parse(auth.body)).toMatchObject({ error: 'invalid_token' });
    const tunnel = await rawSocket(app.url, 'CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n');
    expect(tunnel.status).toBe(400);
    expect(JSON.parse(tunnel.body)).toMatchObject({ error: 'invalid_request', error_description: 'CONNECT is not supported' });
  });

  it('a request asking to upgrade is answered, with Connection: close, so that a request pipelined behind it (which Node drops) is resent, not left waiting', async () => {
    const upgrade = 'Connection: Upgrade\r\nUpgrade: websocket\r\n';
    const ping = 'GET /ping HTTP/1.1\r\nHost: a\r\n\r\n';
    for (const [request, status] of [
      [`GET /authenticate HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\n${upgrade}\r\n${ping}`, 200],
      [`GET /authenticate HTTP/1.1\r\nHost: a\r\n${upgrade}\r\n${ping}`, 401],
      [`GET /me HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\n${upgrade}\r\n${ping}`, 200],
      [`HEAD /authenticate HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\n${upgrade}\r\n${ping}`, 200],
      [`GET /ping HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n${ping}`, 200],
    ] as const) {
      // rawSocket reads until the server closes the connection: without the close it would wait for keep_alive_timeout.
      const answer = await rawSocket(app.url, request);
      expect(answer.status, request).toBe(status);
      expect(answer.head.match(/^Connection: .*$/gim), request).toEqual(['Connection: close']);
      expect(answer.text.match(/HTTP\/1\.1 \d{3} /g), request).toHaveLength(1);
    }
    // A request without Upgrade keeps its connection: the two pipelined ones are both answered.
    const plain = await rawSocket(app.url, `GET /authenticate HTTP/1.1\r\nHost: a\r\n\r\nGET /ping HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    expect(plain.head).toMatch(/\r\nConnection: keep-alive\r\n/i);
    expect(plain.text.match(/HTTP\/1\.1 \d{3} /g)).toEqual(['HTTP/1.1 401 ', 'HTTP/1.1 200 ']);
  });

  it('a connection answered outside the app (a refused request line, CONNECT) is closed on our side too, though the client keeps its own open', async () => {
    // The server runs in this process: its sockets are this process's file descriptors.
    const open = () => readdirSync('/proc/self/fd').length;
    const before = open();
    const { hostname, port } = new URL(app.url);
    const clients = ['FOO /login HTTP/1.1\r\nHost: a\r\n\r\n', 'CONNECT /authenticate HTTP/1.1\r\nHost: a\r\n\r\n'].flatMap((request) =>
      Array.from({ length: 20 }, () => {
        // allowHalfOpen: reading the server's end does not end this side.
        const socket = connect({ port: Number(port), host: hostname, allowHalfOpen: true }, () => socket.write(request));
        socket.on('error', () => {});
        socket.resume();
        // Answered and ended by the server; this side stays open.
        return { socket, answered: new Promise((resolve) => socket.once('end', resolve)) };
      }),
    );
    onTestFinished(() => clients.forEach(({ socket }) => socket.destroy()));
    await Promise.all(clients.map(({ answered }) => answered));
    // The 40 client sockets stay; the server's 40 go within its linger (2 s).
    await expect.poll(() => open() - before, { timeout: 6_000 }).toBeLessThanOrEqual(clients.length + 5);
  });

  it('an Expect other than 100-continue is ignored (RFC 9110 §10.1.1), not a bodiless 417', async () => {
    const body = JSON.stringify({ email: 'nobody@example.test' });
    const response = await raw(app.url, 'POST', '/login', { ...json, expect: 'bogus', 'content-length': String(body.length) }, body);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('password') });
    expectHardened(response);
  });

  it('finishes a request whose client closed its side while the body waited to be read: its handler never hangs', async () => {
    const user = await registerUser(app.url);
    const logoutsRecorded = async () => {
      const rows = (await (await fetch(`${app.url}/metrics`)).text()).split('\n');
      const counts = rows.filter((row) => row.startsWith('jwt_http_request_duration_seconds_count{') && row.includes('route="/logout"'));
      return counts.reduce((sum, row) => sum + Number(row.split(' ').at(-1)), 0);
    };
    const before = await logoutsRecorded();
    // The logout ends the session before it reads the body (a refresh token it may name too):
    // held there until Node, having read the client's FIN, has dropped the request (and closed).
    const { sessions } = app.deps;
    const logout = sessions.logout;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let reached!: () => void;
    const waiting = new Promise<void>((resolve) => (reached = resolve));
    sessions.logout = async (...args) => {
      reached();
      await held;
      return logout.apply(sessions, args);
    };
    onTestFinished(() => void (sessions.logout = logout));
    const body = JSON.stringify({ refresh_token: 'rt1.other' });
    const socket = connect(Number(new URL(app.url).port), '127.0.0.1');
    socket.on('error', () => {});
    const closed = new Promise((resolve) => socket.on('close', resolve));
    onTestFinished(() => void socket.destroy());
    socket.end(`POST /logout HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${user.accessToken}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await waiting;
    await closed;
    release();
    await expect.poll(logoutsRecorded, { timeout: 5_000 }).toBe(before + 1);
    expect((await call(app.url, 'GET', '/authenticate', { token: user.accessToken })).status).toBe(401);
  });

  it('/authenticate ignores the URL length (gateways get only 200/401/503)', async () => {
    const response = await raw(app.url, 'GET', `/authenticate?q=${'x'.repeat(5000)}`, { authorization: `Bearer ${token}` });
    expect(response.status).toBe(200);
    expectHardened(response);
  });

  it('503 while draining carries them too, and every answer then closes its connection (a proxy moves on to another replica)', async () => {
    app.deps.lifecycle.draining = true;
    try {
      const response = await raw(app.url, 'GET', '/health/ready');
      expect(response.status).toBe(503);
      expectHardened(response);
      expect(response.headers.connection).toBe('close');
      for (const [request, status] of [
        [`GET /authenticate HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\n\r\n`, 200],
        // Node hands a request with an Expect other than 100-continue to its checkExpectation event, not to the request listener.
        ['POST /login HTTP/1.1\r\nHost: a\r\nExpect: x-custom\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}', 400],
      ] as const) {
        // rawSocket reads until the server closes the connection.
        const answer = await rawSocket(app.url, request);
        expect(answer.status, request).toBe(status);
        expect(answer.head.match(/^Connection: .*$/gim), request).toEqual(['Connection: close']);
      }
    } finally {
      app.deps.lifecycle.draining = false;
    }
  });

  it('the separate metrics listener: 200, 404, 405, 431 and a missing Host hardened', async () => {
    const { port, server } = await onFreePort(async (port) => {
      const metricsOn = { ...app.deps.config.server, metrics_port: port, host: '127.0.0.1' };
      return { port, server: (await startMetricsServer({ ...app.deps, config: { ...app.deps.config, server: metricsOn } })) as Server };
    });
    const base = `http://127.0.0.1:${port}`;
    try {
      const ok = await raw(base, 'GET', '/metrics');
      expect(ok.status).toBe(200);
      expectHardened(ok);
      const missing = await raw(base, 'GET', '/ping');
      expect(missing).toMatchObject({ status: 404, body: { error: 'not_found' } });
      expectHardened(missing);
      expect(missing.headers['content-type']).toBe('application/json; charset=utf-8');
      const wrong = await raw(base, 'POST', '/metrics');
      expect(wrong).toMatchObject({ status: 405, body: { error: 'method_not_allowed' } });
      expect(wrong.headers.allow).toContain('GET');
      expectHardened(wrong);
      const huge = await raw(base, 'GET', '/metrics', { 'x-big': 'x'.repeat(20_000) });
      expect(huge).toMatchObject({ status: 431, body: { error: 'headers_too_large' } });
      expectHardened(huge);
      // As on the main listener: no Host on HTTP/1.1 is the JSON 400, on HTTP/1.0 nothing missing;
      // an unknown Expect is ignored (Node's own answers would be a bodiless 400 and 417).
      const hostless = await rawSocket(base, 'GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n');
      expect(hostless.status).toBe(400);
      expect(JSON.parse(hostless.body)).toMatchObject({ error: 'invalid_request' });
      expect((await rawSocket(base, 'GET /metrics HTTP/1.0\r\n\r\n')).status).toBe(200);
      const expecting = await raw(base, 'GET', '/metrics', { expect: 'bogus' });
      expect(expecting.status).toBe(200);
      expectHardened(expecting);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('size limits are configurable', () => {
  let app: TestInstance;
  beforeAll(async () => {
    app = await (await testCluster({ server: { max_header_size: '64kb', max_url_length: 300 } })).start();
  });

  it('server.max_header_size raises the 431 threshold; server.max_url_length lowers the 414 one', async () => {
    expect((await raw(app.url, 'GET', '/ping', { 'x-big': 'x'.repeat(40_000) })).status).toBe(200);
    expect((await raw(app.url, 'GET', '/ping', { 'x-big': 'x'.repeat(70_000) })).status).toBe(431);
    expect((await raw(app.url, 'GET', `/ping?q=${'x'.repeat(280)}`)).status).toBe(200);
    expect((await raw(app.url, 'GET', `/ping?q=${'x'.repeat(300)}`)).status).toBe(414);
  });
});

describe('request timeouts are configurable', () => {
  let app: TestInstance;
  beforeAll(async () => {
    app = await (await testCluster({ server: { headers_timeout: '1s', request_timeout: '4s' } })).start();
  });

  /** Writes `parts` on a fresh connection, one every `everyMs`, and resolves with the answer's status, its body and when it came. */
  function slowRequest(parts: string[], everyMs: number, url = app.url): Promise<{ status: number; body: string; afterMs: number }> {
    const { hostname, port } = new URL(url);
    const started = performance.now();
    return new Promise((resolve, reject) => {
      let text = '';
      let timer: NodeJS.Timeout | undefined;
      const socket = connect(Number(port), hostname, () => {
        const next = () => {
          const part = parts.shift();
          if (part === undefined || socket.destroyed) return;
          socket.write(part);
          timer = setTimeout(next, everyMs);
        };
        next();
      });
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      // After its answer the server closes at once: a byte of ours crossing that may reset the connection.
      socket.on('error', (error) => (text ? undefined : reject(error)));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve({ status: Number(text.split(' ')[1]), body: text.split('\r\n\r\n')[1] ?? '', afterMs: performance.now() - started });
      });
    });
  }

  it('headers trickling in are cut at server.headers_timeout; a body that stalls, at request_timeout: 408 both', async () => {
    const head = 'POST /login HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n';
    const [trickle, stalled] = await Promise.all([
      // One byte of the head every 100 ms, for far longer than either timeout.
      slowRequest([...head.repeat(3)], 100),
      // The head at once, then 18 of the 100 bytes announced, then nothing.
      slowRequest([head, '{"email":"a@b.co"}'], 10),
    ]);
    expect(trickle.status).toBe(408);
    expect(trickle.afterMs).toBeGreaterThanOrEqual(1_000);
    expect(trickle.afterMs).toBeLessThan(4_000);
    expect(stalled.status).toBe(408);
    for (const { body } of [trickle, stalled]) expect(JSON.parse(body)).toEqual({ error: 'request_timeout', error_description: 'the request did not arrive in time' });
    expect(stalled.afterMs).toBeGreaterThanOrEqual(4_000);
    expect(stalled.afterMs).toBeLessThan(8_000);
  });

  it('a body that stalls while the instance drains still gets its 408 at request_timeout, and the drain ends with it, not at shutdown_grace', async () => {
    const draining = await (await testCluster({ server: { headers_timeout: '1s', request_timeout: '2s' } })).start();
    const stalled = slowRequest(['POST /login HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n', '{"email"'], 10, draining.url);
    await sleep(300);
    const stopping = performance.now();
    const stopped = draining.stop(15_000);
    onTestFinished(() => stopped);
    const answer = await stalled;
    expect(answer.status).toBe(408);
    expect(answer.afterMs).toBeLessThan(6_000);
    await stopped;
    expect(performance.now() - stopping).toBeLessThan(8_000);
  });

  it('a request whose rest arrives after its 408 is never carried out', async () => {
    const email = uniqueEmail();
    const body = JSON.stringify({ email, password: PASSWORD });
    const { hostname, port } = new URL(app.url);
    const socket = connect({ port: Number(port), host: hostname, allowHalfOpen: true }, () => socket.write('POST /register HTTP/1.1\r\nHost: a\r\n'));
    socket.on('error', () => {});
    let text = '';
    const timedOut = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('\r\n\r\n')) resolve();
      });
    });
    await timedOut;
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    // The rest of the request, at once: read on, it would register the account unseen.
    socket.write(`Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    socket.destroy();
    expect((await call(app.url, 'POST', '/register', { body: { email, password: PASSWORD } })).status).toBe(201);
  });
});

describe('CORS from the allowlist', () => {
  const allowed = 'https://app.example';
  let withCredentials: TestInstance;
  let withoutCredentials: TestInstance;
  beforeAll(async () => {
    const cluster = await testCluster({ server: { cors: { origins: [allowed, 'http://localhost:3000'], credentials: true, max_age: '1h' } } });
    withCredentials = await cluster.start();
    withoutCredentials = await cluster.start({ server: { cors: { origins: [allowed] } } });
  });

  it('an allowed origin gets exactly its origin back, with credentials', async () => {
    for (const [path, status] of [['/ping', 200], ['/me', 401], ['/nope', 404], [`/ping?q=${'x'.repeat(5000)}`, 414]] as const) {
      const response = await raw(withCredentials.url, 'GET', path, { origin: allowed });
      expect(response.status).toBe(status);
      expect(response.headers['access-control-allow-origin']).toBe(allowed);
      expect(response.headers['access-control-allow-credentials']).toBe('true');
      expect(response.headers['access-control-expose-headers']).toContain('WWW-Authenticate');
      expect(response.headers.vary).toContain('Origin');
      expectHardened(response);
    }
  });

  it('without credentials: the origin, but no Access-Control-Allow-Credentials', async () => {
    const response = await raw(withoutCredentials.url, 'GET', '/ping', { origin: allowed });
    expect(response.headers['access-control-allow-origin']).toBe(allowed);
    expect(response.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it.each(['https://evil.example', 'https://app.example.evil.example', 'https://APP.example', 'null', `${allowed}/`])('a disallowed origin (%s) gets no CORS headers', async (origin) => {
    const response = await raw(withCredentials.url, 'GET', '/ping', { origin });
    expect(response.status).toBe(200);
    expect(corsHeaders(response.headers)).toEqual([]);
    expect(response.headers.vary).toContain('Origin');
  });

  it('a preflight from an allowed origin: 204 with the path’s methods, the allowed headers and max age', async () => {
    const response = await raw(withCredentials.url, 'OPTIONS', '/login', {
      origin: allowed,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    });
    expect(response.status).toBe(204);
    expect(response.headers['access-control-allow-origin']).toBe(allowed);
    expect(response.headers['access-control-allow-credentials']).toBe('true');
    expect(response.headers['access-control-allow-methods']).toBe('POST');
    expect(response.headers['access-control-allow-headers']).toMatch(/Authorization.*Content-Type/);
    expect(response.headers['access-control-max-age']).toBe('3600');
    expectHardened(response);
    const sessions = await raw(withCredentials.url, 'OPTIONS', '/sessions/abc', { origin: allowed, 'access-control-request-method': 'DELETE' });
    expect(sessions.status).toBe(204);
    expect(sessions.headers['access-control-allow-methods']).toContain('DELETE');
    // The admin routes too: a preflight carries no token, so it must not meet the admin check, and
    // every path there gets the same answer (a preflight tells nothing of which exist).
    for (const path of [`/admin/users/${crypto.randomUUID()}/roles`, '/admin/nope']) {
      const admin = await raw(withCredentials.url, 'OPTIONS', path, { origin: allowed, 'access-control-request-method': 'PUT' });
      expect(admin.status, path).toBe(204);
      expect(admin.headers['access-control-allow-methods'], path).toBe('GET, POST, PUT, DELETE');
    }
    // Any other OPTIONS there meets the admin check like every method.
    const plainAdmin = await raw(withCredentials.url, 'OPTIONS', '/admin/users', { origin: allowed });
    expect(plainAdmin).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    const evilAdmin = await raw(withCredentials.url, 'OPTIONS', '/admin/users', { origin: 'https://evil.example', 'access-control-request-method': 'GET' });
    expect(evilAdmin).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
  });

  it('no preflight for a disallowed origin, an unknown path or a plain OPTIONS', async () => {
    const evil = await raw(withCredentials.url, 'OPTIONS', '/login', { origin: 'https://evil.example', 'access-control-request-method': 'POST' });
    expect(evil).toMatchObject({ status: 405, body: { error: 'method_not_allowed' } });
    expect(corsHeaders(evil.headers)).toEqual([]);
    const unknown = await raw(withCredentials.url, 'OPTIONS', '/nope', { origin: allowed, 'access-control-request-method': 'GET' });
    expect(unknown.status).toBe(404);
    const plain = await raw(withCredentials.url, 'OPTIONS', '/login', { origin: allowed });
    expect(plain.status).toBe(405);
    expect(plain.headers.allow).toBe('POST');
  });

  it('/authenticate is for gateways: no CORS headers, still only 200/401/503', async () => {
    const response = await raw(withCredentials.url, 'OPTIONS', '/authenticate', { origin: allowed, 'access-control-request-method': 'GET' });
    expect(response.status).toBe(401);
    expect(corsHeaders(response.headers)).toEqual([]);
  });
});
