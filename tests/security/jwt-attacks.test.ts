import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate } from '../helpers/authenticate-client.js';
import { call, registerUser, testCluster } from '../helpers/test-app.js';
import { b64url, craft, craftRaw, isEquivalentSpelling, lenientVariants, trailingBitVariants, withSegment, type Json } from '../helpers/jws.js';

/**
 * The attack catalogue of RFC 8725 / RFC 9068 against the real `/authenticate` over HTTP, on
 * real Redis and PostgreSQL. Every attack must end in 401 + `WWW-Authenticate`, never 200 or 5xx.
 * Rows signed with the service's own key isolate one check each; positive controls prove that
 * the same crafting, unaltered, is accepted.
 */

const INVALID_CHALLENGE = 'Bearer error="invalid_token"';

let base: string;
let signingKey: KeyObject;
let publicKey: KeyObject;
let kid: string;
let issuer: string;
let audience: string;
let live: Awaited<ReturnType<typeof registerUser>>;
let other: Awaited<ReturnType<typeof registerUser>>;
let servedJwk: Json;

const attacker = generateKeyPairSync('ed25519');
const attackerEc = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const attackerJwk = () => ({ ...attacker.publicKey.export({ format: 'jwk' }), kid: 'attacker', alg: 'EdDSA', use: 'sig' });

/** The attacker's key server: jku/x5u point here. The service must never ask it anything. */
const attackerHits: string[] = [];
const attackerServer: Server = createServer((request, response) => {
  attackerHits.push(`${request.method} ${request.url}`);
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ keys: [attackerJwk()] }));
});
let attackerUrl: string;

const now = () => Math.floor(Date.now() / 1000);
const segments = (token: string) => token.split('.') as [string, string, string];
const liveClaims = (): Json => JSON.parse(Buffer.from(segments(live.accessToken)[1], 'base64url').toString('utf8')) as Json;
const header = (overrides: Json = {}): Json => ({ alg: 'EdDSA', typ: 'at+jwt', kid, ...overrides });

/** Claims of the live session (a fresh jti), overridden or with claims removed. */
function claims(overrides: Json = {}, omit: readonly string[] = []): Json {
  const result: Json = { ...liveClaims(), jti: randomUUID(), iat: now(), exp: now() + 900, ...overrides };
  for (const claim of omit) delete result[claim];
  return result;
}

/** Signed with the service's real key: only the altered part can make it fail. */
const genuine = (payload: Json = claims(), headerOverrides: Json = {}) => craft(header(headerOverrides), payload, signingKey);
/** The live token with one payload claim changed and its original signature kept. */
const tamperedClaim = (claim: string, value: unknown) => withSegment(live.accessToken, 1, b64url({ ...liveClaims(), [claim]: value }));

beforeAll(async () => {
  await new Promise<void>((resolve) => attackerServer.listen(0, '127.0.0.1', resolve));
  attackerUrl = `http://127.0.0.1:${(attackerServer.address() as AddressInfo).port}`;
  const cluster = await testCluster();
  base = (await cluster.start()).url;
  const key = cluster.config.auth.keys[0];
  if (!key?.value) throw new Error('the test cluster has no inline signing key');
  signingKey = createPrivateKey(key.value);
  publicKey = createPublicKey(signingKey);
  kid = key.kid;
  issuer = cluster.config.auth.issuer;
  audience = cluster.config.auth.audience;
  [live, other] = await Promise.all([registerUser(base), registerUser(base)]);
  const jwks = await call(base, 'GET', '/.well-known/jwks.json');
  servedJwk = (jwks.body?.keys as Json[] | undefined)?.find((jwk) => jwk.kid === kid) ?? {};
});

afterAll(() => new Promise<void>((resolve) => attackerServer.close(() => resolve())));

async function expectRefused(authorization: string, challenge = INVALID_CHALLENGE) {
  const response = await authenticate(base, authorization);
  expect({ status: response.status, body: response.text.slice(0, 200) }).toEqual({ status: 401, body: expect.stringContaining('"invalid_token"') });
  expect(response.headers.get('www-authenticate')).toBe(challenge);
  expect(response.headers.get('x-user-id')).toBeNull();
}

describe('positive controls (the crafting itself is sound)', () => {
  it('accepts the live token', async () => {
    expect((await authenticate(base, `Bearer ${live.accessToken}`)).status).toBe(200);
  });

  it('accepts a token hand-signed with the service key over the live session', async () => {
    const response = await authenticate(base, `Bearer ${genuine()}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-user-id')).toBe(live.userId);
  });

  it('sees the JWKS key the attacks use', () => {
    expect(servedJwk).toMatchObject({ kid, kty: 'OKP', crv: 'Ed25519' });
    expect(publicKey.export({ format: 'jwk' }).x).toBe(servedJwk.x);
  });
});

interface Attack {
  name: string;
  authorization: () => string;
  challenge?: string;
}

const bearer = (token: () => string) => () => `Bearer ${token()}`;
const noneToken = (alg: string, signature = '') => `${b64url(header({ alg }))}.${b64url(claims())}.${signature}`;
const hsWith = (secret: () => Buffer, headerOverrides: Json = {}) => () => craft(header({ alg: 'HS256', ...headerOverrides }), claims(), secret());
const flipSignatureByte = (token: string, index: number) => {
  const signature = Buffer.from(segments(token)[2], 'base64url');
  signature[index] = (signature[index] ?? 0) ^ 0x01;
  return withSegment(token, 2, signature.toString('base64url'));
};
const resignedWith = (key: KeyObject, headerOverrides: () => Json) => () => craft(header(headerOverrides()), claims(), key);

const attacks: Attack[] = [
  // Unsigned tokens
  ...['none', 'None', 'NONE', 'nOnE'].flatMap((alg): Attack[] => [
    { name: `alg ${alg}, empty signature`, authorization: bearer(() => noneToken(alg)) },
    { name: `alg ${alg}, the live token's signature`, authorization: bearer(() => noneToken(alg, segments(live.accessToken)[2])) },
  ]),
  { name: 'alg none header on the live payload and signature', authorization: bearer(() => withSegment(live.accessToken, 0, b64url(header({ alg: 'none' })))) },
  { name: 'alg missing', authorization: bearer(() => genuine(claims(), { alg: undefined })) },

  // Algorithm confusion: HS256 keyed with the public key in every form it is published in
  { name: 'HS256 keyed with the public key PEM', authorization: bearer(hsWith(() => Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }).toString()))) },
  { name: 'HS256 keyed with the public key PEM, no trailing newline', authorization: bearer(hsWith(() => Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }).toString().trim()))) },
  { name: 'HS256 keyed with the public key DER', authorization: bearer(hsWith(() => publicKey.export({ type: 'spki', format: 'der' }))) },
  { name: 'HS256 keyed with the raw 32-byte public key', authorization: bearer(hsWith(() => Buffer.from(String(servedJwk.x), 'base64url'))) },
  { name: 'HS256 keyed with the served JWK JSON', authorization: bearer(hsWith(() => Buffer.from(JSON.stringify(servedJwk)))) },
  { name: 'HS256 keyed with the JWK JSON of the public key', authorization: bearer(hsWith(() => Buffer.from(JSON.stringify(publicKey.export({ format: 'jwk' }))))) },
  { name: 'HS256 keyed with the JWK x value as text', authorization: bearer(hsWith(() => Buffer.from(String(servedJwk.x)))) },
  { name: 'alg EdDSA in the header, HMAC with the public key PEM', authorization: bearer(() => craftRaw(header(), b64url(claims()), Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }).toString()), 'HS256')) },
  { name: 'ES256 signed by an attacker P-256 key under the real kid', authorization: bearer(() => craft(header({ alg: 'ES256' }), claims(), attackerEc.privateKey)) },

  // Signature
  { name: 'a stripped signature (trailing dot)', authorization: bearer(() => withSegment(live.accessToken, 2, '')) },
  ...[0, 31, 63].map((index): Attack => ({ name: `signature byte ${index} flipped`, authorization: bearer(() => flipSignatureByte(live.accessToken, index)) })),
  { name: 'a truncated signature', authorization: bearer(() => live.accessToken.slice(0, -4)) },
  { name: 'a signature one byte longer', authorization: bearer(() => withSegment(live.accessToken, 2, Buffer.concat([Buffer.from(segments(live.accessToken)[2], 'base64url'), Buffer.of(0)]).toString('base64url'))) },
  { name: "another user's signature on the live header and payload", authorization: bearer(() => withSegment(live.accessToken, 2, segments(other.accessToken)[2])) },
  { name: 'the signature of a different key under the real kid', authorization: bearer(resignedWith(attacker.privateKey, () => ({}))) },

  // Altered header, original signature
  { name: 'header kid altered', authorization: bearer(() => withSegment(live.accessToken, 0, b64url(header({ kid: 'other' })))) },
  { name: 'header typ altered', authorization: bearer(() => withSegment(live.accessToken, 0, b64url(header({ typ: 'JWT' })))) },
  { name: 'header with an extra member', authorization: bearer(() => withSegment(live.accessToken, 0, b64url(header({ x: 1 })))) },
  { name: 'header re-serialised with whitespace', authorization: bearer(() => withSegment(live.accessToken, 0, b64url(JSON.stringify(header(), null, 1)))) },

  // Altered payload, original signature: every claim
  { name: 'payload sub altered (other user)', authorization: bearer(() => tamperedClaim('sub', other.userId)) },
  { name: 'payload sid altered (other session)', authorization: bearer(() => tamperedClaim('sid', other.sessionId)) },
  { name: 'payload jti altered', authorization: bearer(() => tamperedClaim('jti', randomUUID())) },
  { name: 'payload tv altered', authorization: bearer(() => tamperedClaim('tv', 1)) },
  { name: 'payload roles altered (admin)', authorization: bearer(() => tamperedClaim('roles', ['user', 'admin'])) },
  { name: 'payload exp altered (+1 day)', authorization: bearer(() => tamperedClaim('exp', now() + 86_400)) },
  { name: 'payload iat altered', authorization: bearer(() => tamperedClaim('iat', now() - 10)) },
  { name: 'payload iss altered', authorization: bearer(() => tamperedClaim('iss', 'https://attacker.example')) },
  { name: 'payload aud altered', authorization: bearer(() => tamperedClaim('aud', 'other-api')) },
  { name: 'payload with a claim added', authorization: bearer(() => tamperedClaim('admin', true)) },
  { name: 'payload re-serialised with whitespace', authorization: bearer(() => withSegment(live.accessToken, 1, b64url(JSON.stringify(liveClaims(), null, 1)))) },
  { name: 'header and payload swapped', authorization: bearer(() => { const [h, p, s] = segments(live.accessToken); return `${p}.${h}.${s}`; }) },

  // kid traversal and injection: signed with the real key (only the kid is wrong) and with the attacker's
  ...[
    ['path traversal', '../../etc/passwd'],
    ['traversal to /dev/null', '../../../../../../dev/null'],
    ['SQL injection', "' OR 1=1 --"],
    ['SQL injection (union)', "x' UNION SELECT 'secret' --"],
    ['a NUL byte after the real kid', '\u0000'],
    ['command injection', '`id`; $(id) | id'],
    ['a very long kid', 'k'.repeat(2000)],
    ['an empty kid', ''],
    ['the real kid with a trailing space', ' '],
    ['a Redis key pattern', '*'],
  ].flatMap(([label, value]): Attack[] => {
    const kidValue = () => (value === '\u0000' || value === ' ' ? `${kid}${value}` : String(value));
    return [
      { name: `kid ${label}, signed with the service key`, authorization: bearer(() => genuine(claims(), { kid: kidValue() })) },
      { name: `kid ${label}, signed with an attacker key`, authorization: bearer(() => craft(header({ kid: kidValue() }), claims(), attacker.privateKey)) },
    ];
  }),
  { name: 'kid /dev/null with HS256 and an empty secret', authorization: bearer(hsWith(() => Buffer.alloc(0), { kid: '/dev/null' })) },
  { name: 'kid a number', authorization: bearer(() => genuine(claims(), { kid: 1 })) },
  { name: 'kid an array holding the real kid', authorization: bearer(() => genuine(claims(), { kid: [kid] })) },
  { name: 'kid missing', authorization: bearer(() => genuine(claims(), { kid: undefined })) },

  // Keys offered by the token itself (each signed with the attacker's key)
  { name: 'jku at the attacker JWKS, attacker kid', authorization: bearer(resignedWith(attacker.privateKey, () => ({ kid: 'attacker', jku: `${attackerUrl}/jwks.json` }))) },
  { name: 'jku at the attacker JWKS, real kid', authorization: bearer(resignedWith(attacker.privateKey, () => ({ jku: `${attackerUrl}/jwks.json` }))) },
  { name: 'x5u at the attacker, attacker kid', authorization: bearer(resignedWith(attacker.privateKey, () => ({ kid: 'attacker', x5u: `${attackerUrl}/cert.pem` }))) },
  { name: 'x5u at the attacker, real kid', authorization: bearer(resignedWith(attacker.privateKey, () => ({ x5u: `${attackerUrl}/cert.pem` }))) },
  { name: 'embedded jwk of the attacker key, no kid', authorization: bearer(resignedWith(attacker.privateKey, () => ({ kid: undefined, jwk: attackerJwk() }))) },
  { name: 'embedded jwk of the attacker key, real kid', authorization: bearer(resignedWith(attacker.privateKey, () => ({ jwk: { ...attackerJwk(), kid } }))) },
  { name: 'embedded x5c (junk certificate), real kid', authorization: bearer(resignedWith(attacker.privateKey, () => ({ x5c: [Buffer.from('not a certificate').toString('base64')] }))) },

  // crit and b64
  { name: 'an unknown crit extension', authorization: bearer(() => genuine(claims(), { crit: ['urn:example:x'], 'urn:example:x': true })) },
  { name: 'crit naming an absent member', authorization: bearer(() => genuine(claims(), { crit: ['exp'] })) },
  { name: 'crit empty', authorization: bearer(() => genuine(claims(), { crit: [] })) },
  { name: 'b64: false with crit, payload spelled as base64url', authorization: bearer(() => genuine(claims(), { b64: false, crit: ['b64'] })) },
  { name: 'b64: false with crit, raw JSON payload', authorization: bearer(() => craftRaw(header({ b64: false, crit: ['b64'] }), JSON.stringify(claims()), signingKey)) },

  // Claims, each alone wrong under a valid signature
  ...['iss', 'aud', 'sub', 'sid', 'jti', 'tv', 'roles', 'iat', 'exp'].map((claim): Attack => ({ name: `claim ${claim} missing`, authorization: bearer(() => genuine(claims({}, [claim]))) })),
  { name: 'expired beyond the clock tolerance', authorization: bearer(() => genuine(claims({ iat: now() - 1000, exp: now() - 60 }))) },
  { name: 'exp 0', authorization: bearer(() => genuine(claims({ exp: 0 }))) },
  { name: 'nbf in the future', authorization: bearer(() => genuine(claims({ nbf: now() + 120 }))) },
  { name: 'nbf not a number', authorization: bearer(() => genuine(claims({ nbf: 'now' }))) },
  { name: 'iat in the future', authorization: bearer(() => genuine(claims({ iat: now() + 120, exp: now() + 1020 }))) },
  { name: 'exp a string', authorization: bearer(() => genuine(claims({ exp: String(now() + 900) }))) },
  { name: 'tv negative', authorization: bearer(() => genuine(claims({ tv: -1 }))) },
  { name: 'tv newer than the session', authorization: bearer(() => genuine(claims({ tv: 1 }))) },
  { name: 'sid of no session', authorization: bearer(() => genuine(claims({ sid: randomUUID() }))) },
  { name: 'sub of another user with the live sid', authorization: bearer(() => genuine(claims({ sub: other.userId }))) },
  { name: 'sid of another user under the live sub', authorization: bearer(() => genuine(claims({ sid: other.sessionId }))) },
  { name: 'sub in upper case', authorization: bearer(() => genuine(claims({ sub: live.userId.toUpperCase() }))) },

  // typ, iss, aud
  ...['JWT', 'jwt', 'at+jwt2', 'application/jwt', 'JOSE', ''].map((typ): Attack => ({ name: `typ ${JSON.stringify(typ)}`, authorization: bearer(() => genuine(claims(), { typ })) })),
  { name: 'typ missing', authorization: bearer(() => genuine(claims(), { typ: undefined })) },
  { name: 'iss of another issuer', authorization: bearer(() => genuine(claims({ iss: 'https://attacker.example' }))) },
  { name: 'iss with a trailing slash', authorization: bearer(() => genuine(claims({ iss: `${issuer}/` }))) },
  { name: 'aud of another audience', authorization: bearer(() => genuine(claims({ aud: 'other-api' }))) },
  { name: 'aud an array without ours', authorization: bearer(() => genuine(claims({ aud: ['other-api', `${audience} `] }))) },
  { name: 'aud differing in case', authorization: bearer(() => genuine(claims({ aud: audience.toUpperCase() }))) },

  // Wrong token kinds and shapes
  { name: 'the refresh token as an access token', authorization: () => `Bearer ${live.refreshToken}` },
  { name: 'the refresh token without its prefix', authorization: () => `Bearer ${live.refreshToken.slice(4)}.AAAA` },
  { name: 'the session id as a token', authorization: () => `Bearer ${live.sessionId}` },
  { name: 'one segment', authorization: bearer(() => segments(live.accessToken)[0]) },
  { name: 'two segments (no signature)', authorization: bearer(() => segments(live.accessToken).slice(0, 2).join('.')) },
  { name: 'two segments (no header)', authorization: bearer(() => segments(live.accessToken).slice(1).join('.')) },
  { name: 'four segments', authorization: bearer(() => `${live.accessToken}.${segments(live.accessToken)[2]}`) },
  { name: 'four segments, empty last', authorization: bearer(() => `${live.accessToken}.`) },
  { name: 'five segments (JWE shape)', authorization: bearer(() => `${live.accessToken}.AAAA.BBBB`) },
  { name: 'a genuine token over 4 KiB', authorization: bearer(() => genuine(claims({ pad: 'p'.repeat(4200) }))) },
  { name: 'a genuine token of 12 KiB', authorization: bearer(() => genuine(claims({ pad: 'p'.repeat(8800) }))) },
  { name: 'the live token padded past 4 KiB with dots', authorization: bearer(() => `${live.accessToken}${'.'.repeat(4200)}`) },
  { name: 'two tokens separated by a space', authorization: () => `Bearer ${live.accessToken} ${live.accessToken}` },
  { name: 'two tokens separated by a comma', authorization: () => `Bearer ${live.accessToken},${live.accessToken}` },

  // Scheme
  { name: 'no token after the scheme', authorization: () => 'Bearer', challenge: 'Bearer' },
  { name: 'an empty header', authorization: () => '', challenge: 'Bearer' },
  { name: 'the Basic scheme', authorization: () => `Basic ${Buffer.from('a:b').toString('base64')}`, challenge: 'Bearer' },
  { name: 'the live token without a scheme', authorization: () => live.accessToken, challenge: 'Bearer' },
  { name: 'the live token under the Token scheme', authorization: () => `Token ${live.accessToken}`, challenge: 'Bearer' },
  { name: 'Bearer with a tab instead of a space', authorization: () => `Bearer\t${live.accessToken}`, challenge: 'Bearer' },
];

describe('JWT attack catalogue against /authenticate', () => {
  it.each(attacks)('refuses $name', async ({ authorization, challenge }) => {
    await expectRefused(authorization(), challenge);
  });

  it('refuses a request with no Authorization header (challenge without error)', async () => {
    const response = await authenticate(base, undefined);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('refuses two Authorization headers, on /authenticate as on /me: which one an upstream would read is anyone\'s guess', async () => {
    /** One GET with both headers on the wire (fetch would join them into one line). */
    const twice = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const sent = request(`${base}${path}`, { headers: ['Authorization', `Bearer ${live.accessToken}`, 'Authorization', `Bearer ${other.accessToken}`, 'Host', '127.0.0.1'] }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        sent.on('error', reject);
        sent.end();
      });
    expect(await twice('/authenticate')).toBe(401);
    expect(await twice('/me')).toBe(401);
    expect((await authenticate(base, `Bearer ${live.accessToken}`)).status).toBe(200);
  });

  it('never fetched a key from jku or x5u', () => {
    expect(attackerHits).toEqual([]);
  });

  it('still accepts the live token after the whole catalogue', async () => {
    expect((await authenticate(base, `Bearer ${live.accessToken}`)).status).toBe(200);
  });
});

/** Every spelling of `token` that differs only in base64url encoding: spare bits, padding, alphabet. */
function spellings(token: string): Array<{ segment: number; token: string }> {
  return segments(token).flatMap((segment, index) =>
    [...trailingBitVariants(segment), ...lenientVariants(segment)].map((variant) => ({ segment: index, token: withSegment(token, index, variant) })),
  );
}

describe('non-canonical base64url spellings', () => {
  it('generates spare-bit variants for the signature (64 bytes: 4 spare bits)', () => {
    expect(trailingBitVariants(segments(live.accessToken)[2])).toHaveLength(15);
    for (const variant of spellings(live.accessToken)) expect(isEquivalentSpelling(variant.token, live.accessToken)).toBe(true);
  });

  it.each([
    { how: 'logout with the access token', revoke: (token: string) => call(base, 'POST', '/logout', { token }) },
    { how: 'RFC 7009 /revoke (jti denied, session alive)', revoke: (token: string) => call(base, 'POST', '/revoke', { body: { token, token_type_hint: 'access_token' } }) },
    { how: 'logout-all (token version bumped)', revoke: (token: string) => call(base, 'POST', '/logout-all', { token }) },
  ])('refuses every spelling of a token revoked by $how', async ({ revoke }) => {
    const user = await registerUser(base);
    expect((await authenticate(base, `Bearer ${user.accessToken}`)).status).toBe(200);
    expect((await revoke(user.accessToken)).status).toBeLessThan(300);
    const variants = spellings(user.accessToken);
    expect(variants.length).toBeGreaterThanOrEqual(15);
    for (const variant of [{ segment: -1, token: user.accessToken }, ...variants]) {
      const response = await authenticate(base, `Bearer ${variant.token}`);
      expect({ segment: variant.segment, token: variant.token, status: response.status }).toEqual({ segment: variant.segment, token: variant.token, status: 401 });
      expect(response.headers.get('www-authenticate')).toBe(INVALID_CHALLENGE);
    }
  });

  it('a live token: refuses every signature re-spelling; a header/payload re-spelling is accepted only if it decodes to the same claims', async () => {
    const user = await registerUser(base);
    const accepted: string[] = [];
    for (const variant of spellings(user.accessToken)) {
      const response = await authenticate(base, `Bearer ${variant.token}`);
      expect([200, 401]).toContain(response.status);
      if (response.status === 401) expect(response.headers.get('www-authenticate')).toBe(INVALID_CHALLENGE);
      if (variant.segment === 2) expect({ token: variant.token, status: response.status }).toEqual({ token: variant.token, status: 401 });
      if (response.status === 200) {
        expect(isEquivalentSpelling(variant.token, user.accessToken)).toBe(true);
        accepted.push(variant.token);
      }
    }
    // The signing input is the header and payload as spelled, so today no re-spelling verifies ("one spelling per token").
    expect(accepted).toEqual([]);
    expect((await authenticate(base, `Bearer ${user.accessToken}`)).status).toBe(200);
  });
});
