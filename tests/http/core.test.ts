import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { rawSocket } from '../helpers/raw-socket.js';
import { call, PASSWORD, registerUser, testCluster, uniqueEmail, type TestInstance } from '../helpers/test-app.js';

const dataDir = mkdtempSync(join(tmpdir(), 'jwt-embedded-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe.each([
  { mode: 'redis + postgres', embedded: false },
  { mode: 'embedded', embedded: true },
])('core contract ($mode)', ({ embedded }) => {
  let app: TestInstance;
  let base: string;
  beforeAll(async () => {
    const cluster = await testCluster({}, { embedded, dataDir: join(dataDir, 'data') });
    app = await cluster.start();
    base = app.url;
  });

  it('answers /ping and /health/ready', async () => {
    expect(await call(base, 'GET', '/ping')).toMatchObject({ status: 200, body: { status: 'ok' } });
    const ready = await call(base, 'GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', checks: { cache: 'ok', database: 'ok' } });
  });

  it('registers: 201, token response, user, no-store, JSON with charset', async () => {
    const email = uniqueEmail().toUpperCase();
    const response = await call(base, 'POST', '/register', { body: { email, password: PASSWORD } });
    expect(response.status).toBe(201);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.body).toMatchObject({ token_type: 'Bearer', expires_in: 900, user: { email: email.toLowerCase(), roles: ['user'] } });
    expect(response.body?.access_token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(response.body?.refresh_token).toMatch(/^rt1\./);
    expect(response.body?.session_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.body?.user).not.toHaveProperty('passwordHash');
    expect(JSON.stringify(response.body)).not.toContain('argon2');
  });

  it('refuses a taken e-mail (any case) with 409 email_taken', async () => {
    const { email } = await registerUser(base);
    const again = await call(base, 'POST', '/register', { body: { email: ` ${email.toUpperCase()} `, password: PASSWORD } });
    expect(again).toMatchObject({ status: 409, body: { error: 'email_taken' } });
  });

  it.each([
    ['short password', { email: 'a@b.io', password: 'short' }, 400, 'weak_password'],
    ['password equal to the e-mail', { email: 'same@b.io', password: 'same@b.io' }, 400, 'weak_password'],
    ['129 characters', { email: 'a@b.io', password: 'x'.repeat(129) }, 400, 'weak_password'],
    ['5,000 characters', { email: 'a@b.io', password: 'x'.repeat(5_000) }, 400, 'weak_password'],
    ['bad e-mail', { email: 'not-an-email', password: PASSWORD }, 400, 'invalid_request'],
    ['65 characters before the @', { email: `${'a'.repeat(65)}@b.io`, password: PASSWORD }, 400, 'invalid_request'],
    ['a 64-character domain label', { email: `a@${'b'.repeat(64)}.io`, password: PASSWORD }, 400, 'invalid_request'],
    ['256 characters', { email: `a@${Array(4).fill('b'.repeat(62)).join('.')}.io`, password: PASSWORD }, 400, 'invalid_request'],
    ['missing password', { email: 'a@b.io' }, 400, 'invalid_request'],
    ['wrong types', { email: 5, password: [] }, 400, 'invalid_request'],
    ['a list', [1, 2], 400, 'invalid_request'],
  ])('register rejects %s', async (_name, body, status, error) => {
    const response = await call(base, 'POST', '/register', { body });
    expect(response).toMatchObject({ status, body: { error } });
    expect(typeof response.body?.error_description).toBe('string');
  });

  it.each([
    ['/register', { email: 'a@b.io' }, 'password: is required'],
    ['/register', { email: 5, password: PASSWORD }, 'email: must be a string'],
    ['/register', [1, 2], 'body: must be an object'],
    ['/login', { email: 'a@b.io', password: null }, 'password: must be a string'],
    ['/revoke', { token_type_hint: 'access_token' }, 'token: is required'],
    ['/revoke', { token: ['x'] }, 'token: must be a string'],
  ])('%s %j: 400 naming the field in plain words', async (path, body, description) => {
    expect(await call(base, 'POST', path, { body })).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: description } });
  });

  it('a field over its length limit: 400 saying the limit in plain words', async () => {
    for (const [path, body, description] of [
      ['/register', { email: 'a@b.io', password: PASSWORD, device: 'd'.repeat(129) }, 'device: must be at most 128 characters'],
      ['/login', { email: 'a@b.io', password: 'p'.repeat(4097) }, 'password: must be at most 4096 characters'],
      ['/refresh', { refresh_token: 'r'.repeat(8193) }, 'refresh_token: must be at most 8192 characters'],
    ] as const) {
      expect(await call(base, 'POST', path, { body }), path).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: description } });
    }
  });

  it('registers an address at the RFC 5321 limits: 64 characters before the @, 63 in a label', async () => {
    const email = `${randomUUID().replaceAll('-', '').repeat(2)}@${'b'.repeat(63)}.io`;
    expect(email.indexOf('@')).toBe(64);
    const response = await call(base, 'POST', '/register', { body: { email, password: PASSWORD } });
    expect(response).toMatchObject({ status: 201, body: { user: { email } } });
  });

  it('keeps an internationalised domain in its DNS form: the Unicode and the punycode spelling are one account', async () => {
    const local = `idn-${randomUUID()}`;
    const registered = await call(base, 'POST', '/register', { body: { email: `${local}@Bücher.example`, password: PASSWORD } });
    expect(registered).toMatchObject({ status: 201, body: { user: { email: `${local}@xn--bcher-kva.example` } } });
    const again = await call(base, 'POST', '/register', { body: { email: `${local}@xn--bcher-kva.example`, password: PASSWORD } });
    expect(again).toMatchObject({ status: 409, body: { error: 'email_taken' } });
    // Login trims as registration does: a trailing newline (a pasted address) is no control character.
    for (const spelling of [`${local}@bücher.example`, `${local}@BÜCHER.example\n`]) {
      expect((await call(base, 'POST', '/login', { body: { email: spelling, password: PASSWORD } })).status, spelling).toBe(200);
    }
    // An internationalised top-level domain too.
    const russian = await call(base, 'POST', '/register', { body: { email: `${local}@пример.рф`, password: PASSWORD } });
    expect(russian).toMatchObject({ status: 201, body: { user: { email: `${local}@xn--e1afmkfd.xn--p1ai` } } });
    // A domain IDNA refuses stays as given, and is no e-mail address, nor is one that only a URL
    // host parser would clean up (a tab dropped, %41 decoded, the rest after / cut), nor a label with a
    // hyphen at an edge (its punycode would hide it; fullwidth ones too; ASCII ones alike), nor an xn-- label that is no
    // real punycode (xn--com- shows as com); a label's length counts in its DNS form.
    for (const domain of ['bü cher.example', 'bü\tcher.example', 'bü%41cher.example', 'bücher.example/x', '-bücher.example', 'bücher-.example', 'bad-.example', 'ok.bad-.example', '－bücher.example', 'bücher-。example', 'ex.xn--com-', 'b.xn---', `${'ü'.repeat(60)}.example`]) {
      expect(await call(base, 'POST', '/register', { body: { email: `${local}@${domain}`, password: PASSWORD } }), domain).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    }
  });

  // PostgreSQL over the network (PGlite answers in-process, before the next request is read).
  it.skipIf(embedded)('/health/ready requests arriving together share one probe of each store: a flood costs the database one query at a time', async () => {
    const { users } = app.deps;
    const ping = users.ping;
    let inFlight = 0;
    let most = 0;
    let calls = 0;
    users.ping = async () => {
      calls += 1;
      most = Math.max(most, (inFlight += 1));
      try {
        return await ping.call(users);
      } finally {
        inFlight -= 1;
      }
    };
    try {
      const answers = await Promise.all(Array.from({ length: 100 }, () => call(base, 'GET', '/health/ready')));
      expect(answers.map((answer) => answer.status)).toEqual(Array(100).fill(200));
    } finally {
      users.ping = ping;
    }
    expect(most).toBe(1);
    expect(calls).toBeGreaterThan(0);
  });

  it('logs in, and answers unknown e-mail and wrong password with the same body', async () => {
    const { email } = await registerUser(base);
    const ok = await call(base, 'POST', '/login', { body: { email: email.toUpperCase(), password: PASSWORD, device: 'laptop' } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ token_type: 'Bearer' });
    const wrong = await call(base, 'POST', '/login', { body: { email, password: 'wrong password!' } });
    const unknown = await call(base, 'POST', '/login', { body: { email: uniqueEmail(), password: 'wrong password!' } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual(wrong.body);
    expect(wrong.body?.error).toBe('invalid_credentials');
  });

  it('an unknown e-mail runs verifyDummy where a wrong password runs match (no timing oracle: each costs the same verifies)', async () => {
    const { email } = await registerUser(base);
    const { hasher } = app.deps;
    const { match, verifyDummy } = hasher;
    const calls: string[] = [];
    hasher.match = (...args) => (calls.push('match'), match.apply(hasher, args));
    hasher.verifyDummy = (...args) => (calls.push('verifyDummy'), verifyDummy.apply(hasher, args));
    try {
      expect((await call(base, 'POST', '/login', { body: { email, password: 'wrong password!' } })).status).toBe(401);
      expect((await call(base, 'POST', '/login', { body: { email: uniqueEmail(), password: 'wrong password!' } })).status).toBe(401);
    } finally {
      Object.assign(hasher, { match, verifyDummy });
    }
    // Each runs the same argon2 verifies (tests/unit/passwords.test.ts); how long, `npm run test:timing`.
    expect(calls).toEqual(['match', 'verifyDummy']);
  });

  it('/me returns the user for a valid token and 401 without one', async () => {
    const user = await registerUser(base);
    expect(await call(base, 'GET', '/me', { token: user.accessToken })).toMatchObject({ status: 200, body: { id: user.userId, email: user.email } });
    const anonymous = await call(base, 'GET', '/me');
    expect(anonymous).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('/authenticate: 200 with identity headers, for any method and a case-insensitive scheme', async () => {
    const user = await registerUser(base);
    for (const [method, scheme] of [['GET', 'Bearer'], ['POST', 'bearer'], ['DELETE', 'BEARER'], ['HEAD', 'Bearer']] as const) {
      const response = await call(base, method, '/authenticate', { headers: { authorization: `${scheme} ${user.accessToken}` } });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-user-id')).toBe(user.userId);
      expect(response.headers.get('x-session-id')).toBe(user.sessionId);
      expect(response.headers.get('x-user-roles')).toBe('user');
      expect(Number(response.headers.get('x-token-expires'))).toBeGreaterThan(Date.now() / 1000);
      if (method !== 'HEAD') expect(response.body).toMatchObject({ sub: user.userId, sid: user.sessionId, roles: ['user'] });
    }
  });

  it.each([
    ['no header', undefined, 'Bearer'],
    ['another scheme', 'Basic dXNlcjpwYXNz', 'Bearer'],
    ['an empty bearer', 'Bearer ', 'Bearer'],
    ['garbage', 'Bearer not.a.jwt', 'Bearer error="invalid_token"'],
    ['a refresh token', 'Bearer rt1.AAAA.BBBB', 'Bearer error="invalid_token"'],
    ['an oversized token', `Bearer ${'a'.repeat(5000)}.b.c`, 'Bearer error="invalid_token"'],
  ])('/authenticate answers 401 for %s', async (_name, authorization, challenge) => {
    const response = await call(base, 'GET', '/authenticate', { headers: authorization ? { authorization } : {} });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(challenge);
    expect(response.body?.error).toBe('invalid_token');
  });

  it('/authenticate sends each answer with its Content-Length (one write, no chunked framing)', async () => {
    const user = await registerUser(base);
    const lengths: number[] = [];
    for (const [method, authorization] of [['GET', `Bearer ${user.accessToken}`], ['GET', 'Bearer not.a.jwt'], ['GET', undefined], ['HEAD', `Bearer ${user.accessToken}`]] as const) {
      const response = await fetch(`${base}/authenticate`, { method, headers: authorization ? { authorization } : {} });
      const text = await response.text();
      expect(response.headers.get('transfer-encoding')).toBeNull();
      const length = Number(response.headers.get('content-length'));
      lengths.push(length);
      expect(length).toBe(method === 'HEAD' ? lengths[0] : Buffer.byteLength(text));
    }
  });

  // Envoy's ext_authz (HTTP service) asks at its path_prefix followed by the original request's path.
  const belowAuthenticate = ['/authenticate/', '/authenticate/?x=1', '/authenticate/api/orders', '/authenticate/api/orders?page=2&x=%2F', '/authenticate//a'];

  it('answers every path below /authenticate like /authenticate, whatever the method; /authenticated is not one', async () => {
    const user = await registerUser(base);
    for (const path of belowAuthenticate) {
      for (const method of ['GET', 'POST']) {
        const accepted = await call(base, method, path, { token: user.accessToken });
        expect([path, method, accepted.status, accepted.headers.get('x-user-id')]).toEqual([path, method, 200, user.userId]);
        const refused = await call(base, method, path);
        expect([path, method, refused.status, refused.headers.get('www-authenticate')]).toEqual([path, method, 401, 'Bearer']);
      }
    }
    expect((await call(base, 'GET', '/authenticated', { token: user.accessToken })).status).toBe(404);
  });

  it("the app's own /authenticate route (app.request, no Node server) answers every path below it too", async () => {
    const user = await registerUser(base);
    const hono = createApp(app.deps);
    for (const path of ['/authenticate', ...belowAuthenticate]) {
      const response = await hono.request(path, { headers: { authorization: `Bearer ${user.accessToken}` } });
      expect([path, response.status, response.headers.get('x-user-id')]).toEqual([path, 200, user.userId]);
    }
    expect((await hono.request('/authenticated')).status).toBe(404);
  });

  it('refuses control characters in the login e-mail with 400, not a database error', async () => {
    const response = await call(base, 'POST', '/login', { body: { email: 'a\u0000b@x.io', password: PASSWORD } });
    expect(response).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });

  it('refuses a device label that could not be shown as sent (C0/C1 controls, line separators, text-direction overrides) with 400', async () => {
    for (const device of ['phone\u0007', 'phone\u0085', 'line\u2028two', '\u202egnp.exe', 'a\u2067b', 'a\u200fb']) {
      const response = await call(base, 'POST', '/register', { body: { email: uniqueEmail(), password: PASSWORD, device } });
      expect(response, JSON.stringify(device)).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: 'device: must not contain control or text-direction characters' } });
    }
    // Other scripts, right-to-left ones included, and emoji are labels like any other.
    expect((await call(base, 'POST', '/register', { body: { email: uniqueEmail(), password: PASSWORD, device: 'هاتف 📱 Café' } })).status).toBe(201);
  });

  it('refuses an unpaired UTF-16 surrogate in a password or device name with 400: encoded, it would become U+FFFD and match other passwords', async () => {
    const lone = `${PASSWORD} \ud800`;
    const email = uniqueEmail();
    for (const [path, body] of [
      ['/register', { email, password: lone }],
      ['/register', { email, password: PASSWORD, device: 'phone \udfff' }],
      ['/login', { email, password: lone }],
    ] as const) {
      const response = await call(base, 'POST', path, { body });
      expect(response, `${path} ${JSON.stringify(body)}`).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    }
    // A surrogate pair (one code point outside the BMP) is text like any other.
    const paired = `${PASSWORD} 🔑`;
    const registered = await call(base, 'POST', '/register', { body: { email, password: paired } });
    expect(registered.status).toBe(201);
    const changed = await call(base, 'POST', '/password', { token: registered.body?.access_token as string, body: { current_password: paired, new_password: lone } });
    expect(changed).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect((await call(base, 'POST', '/login', { body: { email, password: paired } })).status).toBe(200);
  });

  it('challenges with WWW-Authenticate on every invalid_token, also from /me and /logout', async () => {
    const me = await call(base, 'GET', '/me', { token: 'not.a.jwt' });
    expect(me.status).toBe(401);
    expect(me.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    const logout = await call(base, 'POST', '/logout', { token: 'not.a.jwt' });
    expect(logout.status).toBe(401);
    expect(logout.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });

  it('publishes the JWKS with max-age and only public parts', async () => {
    const response = await call(base, 'GET', '/.well-known/jwks.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toMatch(/max-age=\d+/);
    const keys = response.body?.keys as Record<string, unknown>[];
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
      expect(key).not.toHaveProperty('d');
    }
  });

  it('answers unknown paths with 404 JSON and wrong methods with 405 + Allow', async () => {
    expect(await call(base, 'GET', '/nope')).toMatchObject({ status: 404, body: { error: 'not_found' } });
    const wrong = await call(base, 'GET', '/login');
    expect(wrong).toMatchObject({ status: 405, body: { error: 'method_not_allowed' } });
    expect(wrong.headers.get('allow')).toBe('POST');
    expect((await call(base, 'PUT', '/sessions/abc')).headers.get('allow')).toBe('DELETE');
  });

  it('answers a non-JSON body with 415, malformed JSON with 400, oversized bodies with 413', async () => {
    const form = await call(base, 'POST', '/login', { body: 'email=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form).toMatchObject({ status: 415, body: { error: 'unsupported_media_type' } });
    expect(await call(base, 'POST', '/login', { body: '{"email":' })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await call(base, 'POST', '/login', { body: '\u00ff\u00fe' })).toMatchObject({ status: 400 });
    // JSON is UTF-8: a body labelled UTF-16 is refused as such, not read as broken JSON.
    const wide = await call(base, 'POST', '/login', { body: '{}', headers: { 'content-type': 'application/json; charset=UTF-16' } });
    expect(wide).toMatchObject({ status: 415, body: { error: 'unsupported_media_type', error_description: 'send the body in UTF-8' } });
    expect((await call(base, 'POST', '/login', { body: '{}', headers: { 'content-type': 'application/json; charset=utf-8' } })).status).toBe(400);
    // A key given twice: which one counts would depend on the reader.
    const twice = await call(base, 'POST', '/register', { body: `{"email":"${uniqueEmail()}","email":"${uniqueEmail()}","password":"${PASSWORD}"}` });
    expect(twice).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: 'email: given more than once' } });
    const big = JSON.stringify({ email: 'a@b.io', password: 'x'.repeat(20_000) });
    expect(await call(base, 'POST', '/login', { body: big })).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });
  });

  it('takes an empty chunked body as no body where the body is optional, typed or not', async () => {
    // What Node's own client sends for `request.end()` after headers with no length: a last chunk only.
    const chunked = (path: string, type: string, chunks: string) =>
      rawSocket(base, `POST ${path} HTTP/1.1\r\nHost: a\r\n${type ? `Content-Type: ${type}\r\n` : ''}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunks}0\r\n\r\n`);
    // No credential at all, as with no body: 401, not 415 for a body that is not there.
    const logout = await chunked('/logout', '', '');
    expect({ status: logout.status, body: JSON.parse(logout.body) }).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    const refresh = await chunked('/refresh', 'application/json', '');
    expect({ status: refresh.status, body: JSON.parse(refresh.body) }).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: 'refresh_token is required' } });
    // Where a body is required, or one with content but no type, as before.
    expect((await chunked('/login', 'application/json', '')).status).toBe(400);
    expect((await chunked('/logout', '', '2\r\n{}\r\n')).status).toBe(415);
  });

  it('counts a chunked body while streaming and answers 413 past the limit', async () => {
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let index = 0; index < 40; index += 1) controller.enqueue(new TextEncoder().encode('x'.repeat(1000)));
        controller.close();
      },
    });
    const response = await fetch(`${base}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: chunks,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: 'payload_too_large' });
  });

  it('echoes a well-formed X-Request-Id and replaces a hostile one', async () => {
    const given = await call(base, 'GET', '/ping', { headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const hostile = await call(base, 'GET', '/ping', { headers: { 'x-request-id': 'a b\tc' } });
    expect(hostile.headers.get('x-request-id')).toMatch(/^[0-9a-f]{32}$/);
    // Made ones are new for every request, also across the 256 drawn at once.
    const made = await Promise.all(Array.from({ length: 300 }, () => call(base, 'GET', '/ping')));
    const ids = new Set(made.map((response) => response.headers.get('x-request-id')));
    expect(ids.size).toBe(300);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(given.headers.get('x-instance-id')).toBe(app.deps.instanceId);
  });
});
