import { createPrivateKey, createPublicKey, createSecretKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { exportJWK, type JWK } from 'jose';
import { ConfigError } from '../config/loader.js';
import type { KeyConfig } from '../config/schema.js';
import { readKeyFile } from '../config/secret-file.js';

export type Algorithm = 'EdDSA' | 'ES256' | 'HS256';

/** One key of the ring: `signKey` is absent for verify-only (public or retired) keys. */
export interface RingKey {
  kid: string;
  verifyKey: KeyObject;
  signKey: KeyObject | undefined;
}

/** Keys imported once at start-up: the first signing key signs, every key verifies. */
export interface KeyRing {
  algorithm: Algorithm;
  signer: RingKey;
  byKid: ReadonlyMap<string, RingKey>;
  /** The public JSON Web Key Set (empty for HS256). */
  jwks: { keys: JWK[] };
}

const MIN_HMAC_SECRET_BYTES = 32;

/** Thrown when configured key material is unusable (a configuration mistake); the message names the kid. */
export class KeyError extends ConfigError {
  override name = 'KeyError';
}

function importAsymmetric(kid: string, material: string, algorithm: Algorithm): Pick<RingKey, 'verifyKey' | 'signKey'> {
  const text = material.trim();
  let signKey: KeyObject | undefined;
  let verifyKey: KeyObject;
  try {
    if (text.startsWith('{')) {
      const jwk = JSON.parse(text) as JsonWebKey & { d?: string };
      signKey = jwk.d ? createPrivateKey({ key: jwk, format: 'jwk' }) : undefined;
      verifyKey = signKey ? createPublicKey(signKey) : createPublicKey({ key: jwk, format: 'jwk' });
    } else if (text.includes('PRIVATE KEY-----')) {
      signKey = createPrivateKey(text);
      verifyKey = createPublicKey(signKey);
    } else {
      verifyKey = createPublicKey(text);
    }
  } catch (error) {
    // A JSON parser's message quotes the text around the fault: key material, never shown.
    const reason = error instanceof SyntaxError ? 'not valid JSON' : (error as Error).message;
    throw new KeyError(`auth.keys[${kid}]: not a readable PEM or JWK key (${reason})`);
  }
  const expected = algorithm === 'EdDSA' ? 'ed25519' : 'ec';
  const curveOk = algorithm !== 'ES256' || verifyKey.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  if (verifyKey.asymmetricKeyType !== expected || !curveOk) {
    const want = algorithm === 'EdDSA' ? 'an Ed25519' : 'a P-256 EC';
    throw new KeyError(`auth.keys[${kid}]: ${algorithm} needs ${want} key, got ${verifyKey.asymmetricKeyType ?? 'unknown'}`);
  }
  return { verifyKey, signKey };
}

/**
 * Text that is a key of its own kind, or a path: taken as an HS256 secret, a PEM or JWK key's
 * public part would sign tokens (anyone holding that public key could make them), and a path
 * (`value: ${JWT_KEY}` set to `/run/secrets/…`) would be a secret anyone reading the config knows.
 */
function notASecret(text: string): string | undefined {
  const kind = text.includes('-----BEGIN') ? 'a PEM key' : isJwk(text) ? 'a JWK' : undefined;
  if (kind) return `${kind}, not an HS256 secret (HS256 takes random bytes: npm run keys:generate -- --alg HS256)`;
  if (!/\s/.test(text) && existsSync(text)) return 'the path of a file: give it as file, not value';
  return undefined;
}

/**
 * A JSON Web Key or key set, also with the quotes a shell ate (`{kty:OKP,…}`): braces around a
 * `kty` or `keys` member. A secret that merely starts with `{` is not one.
 */
const isJwk = (text: string): boolean => text.startsWith('{') && /[{,]\s*"?(?:kty|keys)"?\s*:/.test(text);

function importSecret(kid: string, material: string): Pick<RingKey, 'verifyKey' | 'signKey'> {
  const refused = notASecret(material.trim());
  if (refused) throw new KeyError(`auth.keys[${kid}]: ${refused}`);
  const secret = Buffer.from(material.trim(), 'utf8');
  if (secret.length < MIN_HMAC_SECRET_BYTES) {
    throw new KeyError(`auth.keys[${kid}]: an HS256 secret needs at least ${MIN_HMAC_SECRET_BYTES} bytes, got ${secret.length}`);
  }
  const key = createSecretKey(secret);
  return { verifyKey: key, signKey: key };
}

function readMaterial(key: KeyConfig): string {
  if (key.value) return key.value;
  try {
    return readKeyFile(`auth.keys[${key.kid}].file`, key.file as string);
  } catch (error) {
    throw new KeyError(error instanceof Error ? error.message : String(error));
  }
}

/** Imports every configured key once; throws `KeyError` naming the bad key. */
export async function createKeyRing(algorithm: Algorithm, keys: readonly KeyConfig[]): Promise<KeyRing> {
  if (keys.length === 0) throw new KeyError('auth.keys: at least one key is required');
  const byKid = new Map<string, RingKey>();
  let signer: RingKey | undefined;
  const jwks: JWK[] = [];
  for (const config of keys) {
    if (byKid.has(config.kid)) throw new KeyError(`auth.keys[${config.kid}]: duplicate kid`);
    const material = readMaterial(config);
    const imported = algorithm === 'HS256' ? importSecret(config.kid, material) : importAsymmetric(config.kid, material, algorithm);
    if (algorithm !== 'HS256') jwks.push({ ...(await exportJWK(imported.verifyKey)), kid: config.kid, alg: algorithm, use: 'sig' });
    const ringKey: RingKey = { kid: config.kid, ...imported };
    if (!config.sign) ringKey.signKey = undefined;
    byKid.set(config.kid, ringKey);
    signer ??= ringKey.signKey ? ringKey : undefined;
  }
  if (!signer) throw new KeyError('auth.keys: no key can sign (need a private key with sign: true)');
  return { algorithm, signer, byKid, jwks: { keys: jwks } };
}
