import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyMaterial } from '../../src/tokens/generate-key.js';
import { call, PASSWORD, registerUser, testCluster, type TestCluster, type TestInstance } from '../helpers/test-app.js';

// Keys come from files, as a mounted Docker/Kubernetes secret would provide them.
const dir = mkdtempSync(join(tmpdir(), 'jwt-rotation-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const keyFile = (kid: string) => {
  const file = join(dir, `${kid}.pem`);
  writeFileSync(file, generateKeyMaterial('EdDSA').privateKey, { mode: 0o600 });
  return file;
};
const oldKey = { kid: '2026-01', file: keyFile('2026-01') };
const newKey = { kid: '2026-07', file: keyFile('2026-07') };

/** The README's rolling rotation, one `auth.keys` list per phase. */
const phase = {
  before: [oldKey],
  publish: [{ ...oldKey, sign: true }, { ...newKey, sign: false }],
  switch: [{ ...newKey, sign: true }, { ...oldKey, sign: false }],
  retire: [newKey],
};

const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { kid: string }).kid;
const authenticate = async (instance: TestInstance, token: string) => (await call(instance.url, 'GET', '/authenticate', { token })).status;
const jwksKids = async (instance: TestInstance) => ((await call(instance.url, 'GET', '/.well-known/jwks.json')).body?.keys as { kid: string }[]).map((key) => key.kid).sort();

/** Every instance issues a token; every token is accepted by every instance (no failed request). */
async function expectCrossAccepted(instances: TestInstance[]) {
  const tokens = await Promise.all(instances.map(async (instance) => (await registerUser(instance.url)).accessToken));
  for (const token of tokens) {
    for (const instance of instances) expect(await authenticate(instance, token)).toBe(200);
  }
  return tokens;
}

describe('two-phase key rotation across replicas', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await testCluster({ auth: { keys: phase.before } });
  });

  it('never fails a request while rolling, and refuses the old key once it is removed', async () => {
    const before = await cluster.start({ auth: { keys: phase.before } });
    const published = await cluster.start({ auth: { keys: phase.publish } });
    // Phase 1 mid-roll: only the old key signs, the new one is already published.
    const [fromBefore, fromPublished] = await expectCrossAccepted([before, published]);
    expect(kidOf(fromBefore ?? '')).toBe(oldKey.kid);
    expect(kidOf(fromPublished ?? '')).toBe(oldKey.kid);
    expect(await jwksKids(published)).toEqual([oldKey.kid, newKey.kid]);
    await before.stop();

    // Phase 2 mid-roll: A still signs with the old key, B already with the new; both accept both.
    const switched = await cluster.start({ auth: { keys: phase.switch } });
    const user = await registerUser(published.url);
    const [fromA, fromB] = await expectCrossAccepted([published, switched]);
    expect(kidOf(fromA ?? '')).toBe(oldKey.kid);
    expect(kidOf(fromB ?? '')).toBe(newKey.kid);
    expect(await jwksKids(switched)).toEqual([oldKey.kid, newKey.kid]);
    // Why phase 1 exists: a replica that never published the new key refuses B's tokens.
    const skippedPhase1 = await cluster.start({ auth: { keys: phase.before } });
    expect(await authenticate(skippedPhase1, fromB ?? '')).toBe(401);
    await skippedPhase1.stop();
    // A session started under the old key refreshes on B into a new-key token A accepts.
    const refreshed = await call(switched.url, 'POST', '/refresh', { body: { refresh_token: user.refreshToken } });
    expect(refreshed.status).toBe(200);
    const newToken = refreshed.body?.access_token as string;
    expect(kidOf(newToken)).toBe(newKey.kid);
    expect(await authenticate(published, newToken)).toBe(200);
    expect((await call(published.url, 'POST', '/login', { body: { email: user.email, password: PASSWORD } })).status).toBe(200);
    await published.stop();

    // Phase 3 (after access_lifetime + clock_tolerance): the old key is gone everywhere.
    const retired = await cluster.start({ auth: { keys: phase.retire } });
    await expectCrossAccepted([switched, retired]);
    expect(await authenticate(retired, newToken)).toBe(200);
    expect(await jwksKids(retired)).toEqual([newKey.kid]);
    // A token the removed key signed is refused, even though its session is still alive —
    // which is why phase 3 waits until every such token has expired.
    expect(kidOf(fromA ?? '')).toBe(oldKey.kid);
    const refused = await call(retired.url, 'GET', '/authenticate', { token: fromA });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(await authenticate(switched, fromA ?? '')).toBe(200);
  });
});

describe('secrets from files (mounted Docker/Kubernetes secrets)', () => {
  it('reads auth.keys[].file and auth.refresh_secret_file (trailing newline ignored)', async () => {
    const secretFile = join(dir, 'refresh_secret');
    writeFileSync(secretFile, `${'s'.repeat(48)}\n`, { mode: 0o600 });
    const cluster = await testCluster({ auth: { keys: [newKey], refresh_secret: null, refresh_secret_file: secretFile } });
    const instance = await cluster.start();
    const user = await registerUser(instance.url);
    expect(await authenticate(instance, user.accessToken)).toBe(200);
    expect((await call(instance.url, 'POST', '/refresh', { body: { refresh_token: user.refreshToken } })).status).toBe(200);
  });

  it('refuses a short secret file, a placeholder and both a file and a value', async () => {
    const shortFile = join(dir, 'short_secret');
    writeFileSync(shortFile, 'too-short\n');
    const short = await testCluster({ auth: { keys: [newKey], refresh_secret: null, refresh_secret_file: shortFile } });
    await expect(short.start()).rejects.toThrow('at least 32 bytes');
    await expect(testCluster({ auth: { refresh_secret_file: shortFile } })).rejects.toThrow('only one of refresh_secret');
    // An example's placeholder, long enough, is public all the same.
    const placeholderFile = join(dir, 'placeholder_secret');
    writeFileSync(placeholderFile, 'REPLACE_ME_WITH_openssl_rand_base64_48\n');
    const placeholder = await testCluster({ auth: { keys: [newKey], refresh_secret: null, refresh_secret_file: placeholderFile } });
    await expect(placeholder.start()).rejects.toThrow("auth.refresh_secret_file: is still an example's placeholder");
  });

  it('a secret given where its file belongs (file: ${JWT_KEY}) is refused without being shown', async () => {
    const material = generateKeyMaterial('EdDSA').privateKey;
    const keyAsPath = await testCluster({ auth: { keys: [{ kid: 'misplaced', file: material }] } });
    const keyError = await keyAsPath.start().then(() => undefined, (error: unknown) => String(error));
    expect(keyError).toMatch(/auth\.keys\[misplaced\]\.file: cannot read the file it names \((ENOENT|ENAMETOOLONG)\)/);
    expect(keyError).not.toContain('PRIVATE KEY');
    const secret = 'r'.repeat(48);
    const secretAsPath = await testCluster({ auth: { keys: [newKey], refresh_secret: null, refresh_secret_file: secret } });
    const secretError = await secretAsPath.start().then(() => undefined, (error: unknown) => String(error));
    expect(secretError).toContain('auth.refresh_secret_file: cannot read the file it names (ENOENT)');
    expect(secretError).not.toContain(secret);
  });
});
