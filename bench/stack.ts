import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackingServices } from '../scripts/cluster/backing-services.js';
import { buildService } from '../scripts/cluster/build.js';
import { type CleanupStack, tempDir } from '../scripts/cluster/cleanup.js';
import { generateKeyMaterial } from '../src/tokens/generate-key.js';
import { accounts, type Account, mapLimit, register, type Session, tokenPool } from './fixtures.js';
import type { SigningSetup } from './load/jobs.js';
import { AUDIENCE, ISSUER, type ServiceEnv } from './service.js';

/** Builds the service, starts throwaway Redis and PostgreSQL, writes a fresh Ed25519 key; `cleanup` undoes it all. */
export async function startStack(cleanup: CleanupStack, log: (message: string) => void): Promise<{ env: ServiceEnv; signing: SigningSetup }> {
  log('building the service (tsc)');
  buildService();
  const dir = tempDir(cleanup, 'jwt-bench-');
  log('starting Redis and PostgreSQL');
  const { redisUrl, databaseUrl } = await startBackingServices({}, cleanup);
  const keyFile = join(dir, 'signing-key.pem');
  writeFileSync(keyFile, generateKeyMaterial('EdDSA').privateKey, { mode: 0o600 });
  const env: ServiceEnv = { dir, keyFile, kid: 'bench-1', refreshSecret: randomBytes(48).toString('base64url'), redisUrl, databaseUrl };
  return { env, signing: { keyFile, kid: env.kid, issuer: ISSUER, audience: AUDIENCE } };
}

export interface Pool {
  accounts: Account[];
  /** One live session per account, with its latest refresh token. */
  sessions: Session[];
  /** Distinct live access tokens of those sessions. */
  tokens: string[];
}

/** Registers `users` accounts on `url` and makes `size` live access tokens for them. */
export async function makePool(url: string, users: number, size: number): Promise<Pool> {
  const poolAccounts = accounts('pool', users);
  const registered = await mapLimit(poolAccounts, 4, (account) => register(url, account));
  const { tokens, sessions } = await tokenPool(url, registered, size);
  return { accounts: poolAccounts, sessions, tokens };
}
