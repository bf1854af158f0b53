import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Algorithm } from './key-ring.js';

/** Generates fresh key material for `algorithm`: a PKCS#8 PEM private key, or a base64url HS256 secret. */
export function generateKeyMaterial(algorithm: Algorithm): { privateKey: string; publicKey: string | undefined } {
  if (algorithm === 'HS256') return { privateKey: randomBytes(48).toString('base64url'), publicKey: undefined };
  const pair =
    algorithm === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
