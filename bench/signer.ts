import { createAccessTokens } from '../src/tokens/access-token.js';
import { createKeyRing } from '../src/tokens/key-ring.js';
import type { SigningSetup } from './load/jobs.js';

/** The service's access-token signer over the bench's key, for tokens the bench makes itself. */
export async function benchSigner(setup: SigningSetup) {
  const keyRing = await createKeyRing('EdDSA', [{ kid: setup.kid, file: setup.keyFile, value: undefined, sign: true }]);
  return createAccessTokens({ keyRing, issuer: setup.issuer, audience: setup.audience, lifetimeMs: 900_000, clockToleranceMs: 5_000 });
}
