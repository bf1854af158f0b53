import { createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { AppError } from '../../../src/errors.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { accountSubject, createDeviceTokens } from '../../../src/security/device-token.js';
import { createMemoryRateLimiter } from '../../../src/security/memory-rate-limiter.js';
import { createRateLimits } from '../../../src/security/rate-limits.js';

const HASH = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA';
const EMAIL = 'owner@example.com';
const userId = randomUUID();

/** The limits over the in-memory limiter, with the user reads they make counted. */
function limits(overrides: Record<string, { max: number }> = {}) {
  const devices = createDeviceTokens(createSecretKey(randomBytes(32)));
  const reads: string[] = [];
  let currentHash = HASH;
  const rateLimits = createRateLimits({
    limiter: createMemoryRateLimiter(),
    config: configSchema.parse({ limits: { login_account: { max: 3 }, login_device: { max: 3 }, login_ip: { max: 100 }, ...overrides } }).limits,
    metrics: createMetrics({ queueDepth: () => 0 }),
    logger: pino({ level: 'silent' }),
    audit: { record: () => {} },
    devices,
    passwordHashOf: async (id) => {
      reads.push(id);
      return currentHash;
    },
  });
  const token = devices.issue(accountSubject(EMAIL), { userId, passwordHash: HASH });
  const wrong = (): Promise<string> => Promise.reject(new AppError('invalid_credentials', 'wrong'));
  const attempt = (deviceToken: string | undefined, password = wrong, email = EMAIL) =>
    rateLimits.login(email, { ip: '203.0.113.9', deviceToken }, password).catch((error: AppError) => error.code);
  return { reads, token, attempt, changePassword: () => (currentHash = `${HASH}-new`) };
}

describe('trusted-device counting', () => {
  it('reads the user only for a token whose MAC holds, and not once its device is locked', async () => {
    const { reads, token, attempt } = limits();
    expect(await attempt(`${token.slice(0, -1)}${token.endsWith('A') ? 'Q' : 'A'}`)).toBe('invalid_credentials');
    expect(await attempt('dt1.forged')).toBe('invalid_credentials');
    expect(reads).toEqual([]);
    for (let i = 0; i < 3; i += 1) expect(await attempt(token)).toBe('invalid_credentials');
    expect(reads).toEqual([userId, userId, userId]);
    for (let i = 0; i < 5; i += 1) expect(await attempt(token)).toBe('rate_limited');
    expect(reads).toHaveLength(3);
  });

  it('a token of an old password refused by its locked account leaves the client uncharged', async () => {
    const { token, attempt, changePassword } = limits({ login_device: { max: 20 }, login_ip: { max: 6 } });
    changePassword();
    for (let i = 0; i < 3; i += 1) expect(await attempt(token)).toBe('invalid_credentials');
    for (let i = 0; i < 5; i += 1) expect(await attempt(token)).toBe('rate_limited');
    // The client made 3 counted attempts of its 6: another account from it is still heard.
    // Before, each refusal above had cost it a hit, and this was 429.
    expect(await attempt(undefined, undefined, 'other@example.com')).toBe('invalid_credentials');
  });

  it('a token of an old password is counted on the account too (and its device), and reads stop once they lock', async () => {
    const { reads, token, attempt, changePassword } = limits();
    changePassword();
    for (let i = 0; i < 3; i += 1) expect(await attempt(token)).toBe('invalid_credentials');
    // The account is locked now: the right password from this token is refused too.
    expect(await attempt(token, () => Promise.resolve('ok'))).toBe('rate_limited');
    expect(await attempt(undefined, () => Promise.resolve('ok'))).toBe('rate_limited');
    const before = reads.length;
    for (let i = 0; i < 5; i += 1) expect(await attempt(token)).toBe('rate_limited');
    expect(reads).toHaveLength(before);
  });
});
