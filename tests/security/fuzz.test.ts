import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { authenticate, nextClientIp } from '../helpers/authenticate-client.js';
import { registerUser, testCluster } from '../helpers/test-app.js';
import { asHeaderBytes, isEquivalentSpelling, isHeaderSafe } from '../helpers/jws.js';
import { mutationsArb } from './mutations.js';

/**
 * Property-based fuzzing over real HTTP (real Redis and PostgreSQL): whatever the body, the
 * content type or the token, the service answers below 500 with the contract's error body,
 * `/authenticate` answers only 200 or 401, and no mutated token is accepted unless it is a
 * base64url re-spelling of the live one. Runs are bounded so the file stays well under 60 s.
 */

let base: string;
/** Calls /password; never logged out by the fuzzing. */
let caller: Awaited<ReturnType<typeof registerUser>>;
/** Its tokens are values the fuzzer may send (and so may end its session). */
let victim: Awaited<ReturnType<typeof registerUser>>;
/** Only ever sent mutated, to /authenticate. */
let live: Awaited<ReturnType<typeof registerUser>>;

beforeAll(async () => {
  // The production limits on: the fuzzer's fresh client addresses keep per-IP limits from masking the bodies.
  const cluster = await testCluster({ limits: { enabled: true } });
  base = (await cluster.start()).url;
  [caller, victim, live] = await Promise.all([registerUser(base), registerUser(base), registerUser(base)]);
});

type Body = string | Uint8Array | undefined;

async function send(method: string, path: string, body: Body, contentType: string | undefined, token?: string) {
  const headers: Record<string, string> = { 'x-forwarded-for': nextClientIp() };
  if (contentType !== undefined) headers['content-type'] = contentType;
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${base}${path}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type'), text };
}

/** Below 500, and an error is `{error, error_description}` as JSON. */
function expectContract(response: Awaited<ReturnType<typeof send>>, context: unknown) {
  expect({ status: response.status, context }).toEqual({ status: expect.toBeOneOf([200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415, 429]), context });
  if (response.status < 400) return;
  expect(response.contentType).toMatch(/^application\/json/);
  const body = JSON.parse(response.text) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
  expect(typeof body.error).toBe('string');
  expect(typeof body.error_description).toBe('string');
}

const unicode = fc.string({ unit: 'binary', maxLength: 40 });
const control = fc.string({ unit: fc.integer({ min: 0, max: 0x1f }).map((code) => String.fromCharCode(code)), maxLength: 10 });
const huge = fc.integer({ min: 4000, max: 20_000 }).map((length) => 'é'.repeat(length));
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  unicode,
  control.map((text) => `a${text}@example.test`),
  huge,
  fc.emailAddress(),
  fc.string({ minLength: 8, maxLength: 140 }),
  fc.constantFrom(null, true, 0, -1, 1e308, '', [], {}, '__proto__', 'constructor'),
);

/** Every field of this API is a string: well-typed values with hostile content reach the deepest code. */
const stringValue = (tokens: () => readonly string[]) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9]{1,12}@[a-z]{1,8}\.test$/) },
    fc.emailAddress(),
    fc.emailAddress().map((email) => ` ${email.toUpperCase()} `),
    unicode,
    control.map((text) => `pass${text}word`),
    fc.string({ unit: 'grapheme', minLength: 8, maxLength: 140 }),
    fc.integer({ min: 129, max: 5000 }).map((length) => 'x'.repeat(length)),
    fc.constantFrom(0, 1, 2, 3).map((index) => tokens()[index % Math.max(1, tokens().length)] ?? ''),
  );

function bodiesFor(keys: readonly string[], tokens: () => readonly string[]): fc.Arbitrary<Body> {
  const withTokens = fc.oneof(anyValue, stringValue(tokens));
  const record = fc.dictionary(fc.constantFrom(...keys, '__proto__', 'extra'), withTokens, { maxKeys: keys.length + 1 });
  const typed = fc.record(Object.fromEntries(keys.map((key) => [key, stringValue(tokens)])));
  return fc.oneof(
    { weight: 4, arbitrary: typed.map((value) => JSON.stringify(value)) },
    { weight: 3, arbitrary: record.map((value) => JSON.stringify(value)) },
    { weight: 2, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value)) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
    { weight: 1, arbitrary: huge.map((text) => JSON.stringify({ [keys[0] ?? 'x']: text })) },
    { weight: 1, arbitrary: fc.constantFrom<Body>(undefined, '', 'null', '[]', '{', '{"a":1}{}', '\ufeff{}', '{"__proto__":{"admin":true}}') },
  );
}

const contentTypes: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 5, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      undefined,
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/json;charset=utf-16',
      'application/problem+json',
      'application/jsonx',
      'application/json;',
      'text/plain',
      'text/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      '',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }).map(asHeaderBytes) },
);

const endpoints = [
  { path: '/register', keys: ['email', 'password', 'device'], auth: false },
  { path: '/login', keys: ['email', 'password', 'device'], auth: false },
  { path: '/refresh', keys: ['refresh_token'], auth: false },
  { path: '/logout', keys: ['refresh_token'], auth: false },
  { path: '/password', keys: ['current_password', 'new_password'], auth: true },
  { path: '/revoke', keys: ['token', 'token_type_hint'], auth: false },
] as const;

describe('fuzzing JSON endpoints: never 5xx, always the error contract', () => {
  const tokens = () => [victim.refreshToken, victim.accessToken, `${victim.refreshToken.slice(0, -1)}A`, victim.email] as const;

  it.each(endpoints)('POST $path', async ({ path, keys, auth }) => {
    await fc.assert(
      fc.asyncProperty(bodiesFor(keys, tokens), contentTypes, async (body, contentType) => {
        expectContract(await send('POST', path, body, contentType, auth ? caller.accessToken : undefined), { path, body, contentType });
      }),
      { numRuns: 100 },
    );
  });

  it('DELETE /sessions/:id with any id', async () => {
    const ids = fc.oneof(
      fc.uuid().map((id) => encodeURIComponent(id)),
      fc.string({ unit: 'binary', maxLength: 60 }).map((id) => encodeURIComponent(id)),
      fc.stringMatching(/^(?:%[0-9A-Fa-f]{0,2}|[a-z0-9.-]){1,20}$/),
      fc.constantFrom('..', '%2e%2e', '%00', '%ff', '%c0%ae', victim.sessionId, victim.sessionId.toUpperCase(), `${caller.sessionId}%00`),
    );
    await fc.assert(
      fc.asyncProperty(ids, bodiesFor(['id'], tokens), contentTypes, async (id, body, contentType) => {
        const response = await send('DELETE', `/sessions/${id}`, body, contentType, caller.accessToken);
        expectContract(response, { id, body, contentType });
        expect(response.status).not.toBe(204);
      }),
      { numRuns: 120 },
    );
    expect((await authenticate(base, `Bearer ${caller.accessToken}`)).status).toBe(200);
  });
});

describe('fuzzing /authenticate', () => {
  const methods = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS');

  it('answers only 401 to any Authorization header value, whatever the method', async () => {
    const values = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }).map(asHeaderBytes),
      fc.tuple(fc.constantFrom('Bearer ', 'bearer ', 'BEARER ', 'Bearer  ', 'Basic ', 'Bearer\t'), fc.string({ unit: 'binary', maxLength: 300 }).map(asHeaderBytes)).map(([scheme, rest]) => `${scheme}${rest}`),
      fc.tuple(fc.base64String({ maxLength: 80 }), fc.base64String({ maxLength: 200 }), fc.base64String({ maxLength: 90 })).map((parts) => `Bearer ${parts.join('.')}`),
    );
    await fc.assert(
      fc.asyncProperty(values.filter(isHeaderSafe), methods, async (authorization, method) => {
        const response = await authenticate(base, authorization, method);
        expect({ authorization, method, status: response.status }).toEqual({ authorization, method, status: 401 });
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }),
      { numRuns: 400 },
    );
  });

  it('accepts a mutated live token only if it is a re-spelling of the same claims and signature', async () => {
    expect((await authenticate(base, `Bearer ${live.accessToken}`)).status).toBe(200);
    await fc.assert(
      fc.asyncProperty(mutationsArb.map((mutate) => mutate(live.accessToken)).filter((token) => isHeaderSafe(token) && token !== live.accessToken), async (token) => {
        const response = await authenticate(base, `Bearer ${token}`);
        expect([200, 401]).toContain(response.status);
        if (response.status === 200) expect({ token, equivalent: isEquivalentSpelling(token, live.accessToken) }).toEqual({ token, equivalent: true });
      }),
      { numRuns: 1000 },
    );
    expect((await authenticate(base, `Bearer ${live.accessToken}`)).status).toBe(200);
  });

  it('never rotates a mutated refresh token unless it decodes to the same bytes', async () => {
    const user = await registerUser(base);
    const [prefix, body, mac] = user.refreshToken.split('.') as [string, string, string];
    const sameBytes = (token: string) => {
      const parts = token.trim().split('.');
      return (
        parts.length === 3 &&
        parts[0] === prefix &&
        Buffer.from(parts[1] ?? '', 'base64url').equals(Buffer.from(body, 'base64url')) &&
        Buffer.from(parts[2] ?? '', 'base64url').equals(Buffer.from(mac, 'base64url'))
      );
    };
    await fc.assert(
      fc.asyncProperty(mutationsArb.map((mutate) => mutate(user.refreshToken)).filter((token) => token !== user.refreshToken), async (token) => {
        const response = await send('POST', '/refresh', JSON.stringify({ refresh_token: token }), 'application/json');
        expectContract(response, { token });
        if (response.status === 200) expect({ token, sameBytes: sameBytes(token) }).toEqual({ token, sameBytes: true });
      }),
      { numRuns: 300 },
    );
  });
});
