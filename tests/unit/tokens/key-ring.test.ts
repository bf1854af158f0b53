import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KeyConfig } from '../../../src/config/schema.js';
import { generateKeyMaterial } from '../../../src/tokens/generate-key.js';
import { createKeyRing, KeyError, type Algorithm } from '../../../src/tokens/key-ring.js';

const dir = mkdtempSync(join(tmpdir(), 'jwt-cluster-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function writeKeyFile(text: string): string {
  fileCount += 1;
  const file = join(dir, `key-${fileCount}`);
  writeFileSync(file, text);
  return file;
}

function keyConfig(kid: string, fields: { value?: string; file?: string; sign?: boolean }): KeyConfig {
  return { kid, value: fields.value, file: fields.file, sign: fields.sign ?? true };
}

function pem(key: KeyObject): string {
  return key.export(key.type === 'private' ? { type: 'pkcs8', format: 'pem' } : { type: 'spki', format: 'pem' }).toString();
}

function jwkJson(key: KeyObject): string {
  return JSON.stringify(key.export({ format: 'jwk' }));
}

const ed25519 = () => generateKeyPairSync('ed25519');
const p256 = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const p384 = () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' });

async function keyErrorOf(promise: Promise<unknown>): Promise<KeyError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(KeyError);
    return error as KeyError;
  }
  throw new Error('expected a KeyError');
}

describe('createKeyRing: asymmetric keys', () => {
  const cases: { algorithm: Algorithm; keyType: string; pair: () => { privateKey: KeyObject; publicKey: KeyObject } }[] = [
    { algorithm: 'EdDSA', keyType: 'ed25519', pair: ed25519 },
    { algorithm: 'ES256', keyType: 'ec', pair: p256 },
  ];

  describe.each(cases)('$algorithm', ({ algorithm, keyType, pair }) => {
    it('imports a PKCS#8 PEM private key given as a value and signs with it', async () => {
      const { privateKey } = generateKeyMaterial(algorithm);
      const ring = await createKeyRing(algorithm, [keyConfig('k1', { value: privateKey })]);
      expect(ring.algorithm).toBe(algorithm);
      expect(ring.signer.kid).toBe('k1');
      expect(ring.signer.signKey?.type).toBe('private');
      expect(ring.signer.verifyKey.type).toBe('public');
      expect(ring.signer.verifyKey.asymmetricKeyType).toBe(keyType);
      expect(ring.byKid.get('k1')).toBe(ring.signer);
    });

    it('imports a PEM private key from a file', async () => {
      const { privateKey, publicKey } = generateKeyMaterial(algorithm);
      const ring = await createKeyRing(algorithm, [keyConfig('from-file', { file: writeKeyFile(privateKey) })]);
      expect(ring.signer.kid).toBe('from-file');
      expect(ring.signer.signKey?.type).toBe('private');
      expect(pem(ring.signer.verifyKey)).toBe(publicKey);
    });

    it('imports a private JWK given as JSON (value and file)', async () => {
      const { privateKey, publicKey } = pair();
      const ring = await createKeyRing(algorithm, [
        keyConfig('jwk-value', { value: jwkJson(privateKey) }),
        keyConfig('jwk-file', { file: writeKeyFile(`${jwkJson(privateKey)}\n`) }),
      ]);
      for (const kid of ['jwk-value', 'jwk-file']) {
        const key = ring.byKid.get(kid);
        expect(key?.signKey?.type).toBe('private');
        expect(key?.verifyKey.equals(publicKey)).toBe(true);
      }
    });

    it('treats a public key (SPKI PEM or public JWK) as verify-only', async () => {
      const signing = pair();
      const publicPem = pair().publicKey;
      const publicJwk = pair().publicKey;
      const ring = await createKeyRing(algorithm, [
        keyConfig('public-pem', { value: pem(publicPem) }),
        keyConfig('public-jwk', { value: jwkJson(publicJwk) }),
        keyConfig('signing', { value: pem(signing.privateKey) }),
      ]);
      expect(ring.signer.kid).toBe('signing');
      expect(ring.byKid.get('public-pem')?.signKey).toBeUndefined();
      expect(ring.byKid.get('public-pem')?.verifyKey.equals(publicPem)).toBe(true);
      expect(ring.byKid.get('public-jwk')?.signKey).toBeUndefined();
      expect(ring.byKid.get('public-jwk')?.verifyKey.equals(publicJwk)).toBe(true);
      expect(ring.jwks.keys.map((key) => key.kid)).toEqual(['public-pem', 'public-jwk', 'signing']);
    });

    it('refuses a ring made only of public keys', async () => {
      const error = await keyErrorOf(createKeyRing(algorithm, [keyConfig('public', { value: pem(pair().publicKey) })]));
      expect(error.message).toMatch(/no key can sign/);
    });

    it('publishes a `sign: false` key but signs with the next signing key', async () => {
      const retired = pair();
      const current = pair();
      const ring = await createKeyRing(algorithm, [
        keyConfig('retired', { value: pem(retired.privateKey), sign: false }),
        keyConfig('current', { value: pem(current.privateKey) }),
      ]);
      expect(ring.signer.kid).toBe('current');
      expect(ring.signer.verifyKey.equals(current.publicKey)).toBe(true);
      expect(ring.byKid.get('retired')?.signKey).toBeUndefined();
      expect(ring.byKid.get('retired')?.verifyKey.equals(retired.publicKey)).toBe(true);
      expect(ring.jwks.keys.map((key) => key.kid)).toEqual(['retired', 'current']);
    });

    it('publishes kid, alg and use in the JWKS and never a private part', async () => {
      const { privateKey, publicKey } = pair();
      const ring = await createKeyRing(algorithm, [keyConfig('k1', { value: pem(privateKey) })]);
      expect(ring.jwks.keys).toHaveLength(1);
      const [published] = ring.jwks.keys;
      const expectedPublic = publicKey.export({ format: 'jwk' });
      expect(published).toEqual({ ...expectedPublic, kid: 'k1', alg: algorithm, use: 'sig' });
      expect(published).not.toHaveProperty('d');
      expect(JSON.stringify(ring.jwks)).not.toContain(String(privateKey.export({ format: 'jwk' }).d));
    });
  });

  it('rejects a key of the wrong type for the algorithm, naming the kid', async () => {
    const wrong: { algorithm: Algorithm; kid: string; key: KeyObject }[] = [
      { algorithm: 'EdDSA', kid: 'p256-for-eddsa', key: p256().privateKey },
      { algorithm: 'EdDSA', kid: 'p256-public-for-eddsa', key: p256().publicKey },
      { algorithm: 'EdDSA', kid: 'x25519-for-eddsa', key: generateKeyPairSync('x25519').privateKey },
      { algorithm: 'ES256', kid: 'ed25519-for-es256', key: ed25519().privateKey },
      { algorithm: 'ES256', kid: 'ed25519-public-for-es256', key: ed25519().publicKey },
      { algorithm: 'ES256', kid: 'p384-for-es256', key: p384().privateKey },
      { algorithm: 'ES256', kid: 'p384-jwk-for-es256', key: p384().publicKey },
      { algorithm: 'ES256', kid: 'rsa-for-es256', key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey },
    ];
    for (const { algorithm, kid, key } of wrong) {
      const value = kid.includes('jwk') ? jwkJson(key) : pem(key);
      const error = await keyErrorOf(createKeyRing(algorithm, [keyConfig(kid, { value })]));
      expect(error.message).toContain(`auth.keys[${kid}]`);
      expect(error.message).toContain(algorithm);
    }
  });

  it('rejects material that is neither PEM nor JWK, naming the kid', async () => {
    for (const value of ['not a key', '{"kty":"OKP"', '{"kty":"oct","k":"c2VjcmV0"}', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----']) {
      const error = await keyErrorOf(createKeyRing('EdDSA', [keyConfig('garbage', { value })]));
      expect(error.message).toContain('auth.keys[garbage]');
    }
  });

  it('never quotes key material of a JWK that is not valid JSON (a shell ate its quotes)', async () => {
    const text = jwkJson(ed25519().privateKey);
    const jwk = JSON.parse(text) as { d: string };
    const broken = text.replace(`"d":"${jwk.d}"`, `"d":${jwk.d}`);
    const error = await keyErrorOf(createKeyRing('EdDSA', [keyConfig('broken', { value: broken })]));
    expect(error.message).toContain('auth.keys[broken]: not a readable PEM or JWK key (not valid JSON)');
    expect(error.message).not.toContain(jwk.d.slice(0, 8));
  });
});

describe('createKeyRing: HS256', () => {
  it('accepts a secret of at least 32 bytes and publishes no JWKS', async () => {
    const { privateKey } = generateKeyMaterial('HS256');
    const ring = await createKeyRing('HS256', [keyConfig('hmac', { value: privateKey })]);
    expect(ring.signer.kid).toBe('hmac');
    expect(ring.signer.signKey?.type).toBe('secret');
    expect(ring.signer.verifyKey).toBe(ring.signer.signKey);
    expect(ring.jwks).toEqual({ keys: [] });
  });

  it('reads the secret from a file without its trailing newline', async () => {
    const secret = 'a'.repeat(32);
    const ring = await createKeyRing('HS256', [keyConfig('hmac-file', { file: writeKeyFile(`${secret}\n`) })]);
    expect(ring.signer.verifyKey.export().toString('utf8')).toBe(secret);
  });

  it('rejects a secret shorter than 32 bytes (after trimming), naming the kid', async () => {
    for (const value of ['short', 'x'.repeat(31), `  ${'x'.repeat(31)}\n`]) {
      const error = await keyErrorOf(createKeyRing('HS256', [keyConfig('weak-secret', { value })]));
      expect(error.message).toContain('auth.keys[weak-secret]');
      expect(error.message).toMatch(/32 bytes/);
    }
  });

  it('refuses a PEM or JWK key, or the path of a file, as a secret (a public key would let its holders sign)', async () => {
    const { publicKey, privateKey } = ed25519();
    const secretFile = writeKeyFile('s'.repeat(48));
    for (const [value, expected] of [
      [pem(publicKey), 'a PEM key, not an HS256 secret'],
      [pem(privateKey), 'a PEM key, not an HS256 secret'],
      [jwkJson(publicKey), 'a JWK, not an HS256 secret'],
      [JSON.stringify({ keys: [JSON.parse(jwkJson(publicKey))] }), 'a JWK, not an HS256 secret'],
      [jwkJson(publicKey).replaceAll('"', ''), 'a JWK, not an HS256 secret'],
      [secretFile, 'the path of a file: give it as file, not value'],
    ] as const) {
      const error = await keyErrorOf(createKeyRing('HS256', [keyConfig('misused', { value })]));
      expect(error.message).toBe(`auth.keys[misused]: ${expected}${expected.startsWith('a ') ? ' (HS256 takes random bytes: npm run keys:generate -- --alg HS256)' : ''}`);
    }
    expect((await keyErrorOf(createKeyRing('HS256', [keyConfig('from-file', { file: writeKeyFile(pem(publicKey)) })]))).message).toContain('a PEM key');
    expect((await createKeyRing('HS256', [keyConfig('file', { file: secretFile })])).signer.kid).toBe('file');
    // A generated password may start with a brace: not a JWK.
    expect((await createKeyRing('HS256', [keyConfig('brace', { value: '{'.padEnd(40, 'x9!') })])).signer.kid).toBe('brace');
  });

  it('counts bytes, not characters', async () => {
    // 11 three-byte characters: 11 characters but 33 bytes.
    const ring = await createKeyRing('HS256', [keyConfig('utf8', { value: '€'.repeat(11) })]);
    expect(ring.signer.verifyKey.symmetricKeySize).toBe(33);
  });

  it('keeps a `sign: false` secret for verification only', async () => {
    const ring = await createKeyRing('HS256', [
      keyConfig('old', { value: 'o'.repeat(32), sign: false }),
      keyConfig('new', { value: 'n'.repeat(32) }),
    ]);
    expect(ring.signer.kid).toBe('new');
    expect(ring.byKid.get('old')?.signKey).toBeUndefined();
    expect(ring.byKid.get('old')?.verifyKey.type).toBe('secret');
  });
});

describe('createKeyRing: configuration errors', () => {
  it('rejects a duplicate kid', async () => {
    const error = await keyErrorOf(
      createKeyRing('EdDSA', [keyConfig('same', { value: pem(ed25519().privateKey) }), keyConfig('same', { value: pem(ed25519().privateKey) })]),
    );
    expect(error.message).toContain('auth.keys[same]');
    expect(error.message).toMatch(/duplicate kid/);
  });

  it('rejects an empty ring and a ring where every key has `sign: false`', async () => {
    expect((await keyErrorOf(createKeyRing('EdDSA', []))).message).toMatch(/at least one key/);
    const error = await keyErrorOf(createKeyRing('EdDSA', [keyConfig('retired', { value: pem(ed25519().privateKey), sign: false })]));
    expect(error.message).toMatch(/no key can sign/);
  });

  it('reports an unreadable key file with the kid and the error code, not the contents nor the path (it may be a misplaced key)', async () => {
    const missing = join(dir, 'does-not-exist.pem');
    const error = await keyErrorOf(createKeyRing('EdDSA', [keyConfig('missing', { file: missing })]));
    expect(error.message).toContain('auth.keys[missing].file: cannot read the file it names (ENOENT)');
    expect(error.message).not.toContain(missing);
    const directory = await keyErrorOf(createKeyRing('EdDSA', [keyConfig('directory', { file: dir })]));
    expect(directory.message).toContain('auth.keys[directory]');
    expect(directory.message).toContain('EISDIR');
  });

  it('imports a private key whose public half matches the configured signer', async () => {
    const { privateKey } = generateKeyMaterial('EdDSA');
    const ring = await createKeyRing('EdDSA', [keyConfig('k1', { value: privateKey })]);
    expect(ring.signer.signKey?.equals(createPrivateKey(privateKey))).toBe(true);
  });
});
