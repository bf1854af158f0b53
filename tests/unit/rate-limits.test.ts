import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { clientBucket } from '../../src/security/client-bucket.js';
import { lockMs, retryAfterSeconds } from '../../src/security/rate-limiter.js';

describe('clientBucket', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002::9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['1::2:3:4:5:6:7', '1:0:2:3::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    // IPv4 inside IPv6 counts as that IPv4 address (before: all of them in one /64 bucket).
    ['::ffff:cb00:7107', '203.0.113.7'],
    ['::FFFF:CB00:7107', '203.0.113.7'],
    ['64:ff9b::203.0.113.7', '203.0.113.7'],
    ['64:ff9b::cb00:7108', '203.0.113.8'],
    ['64:ff9b:1::cb00:7108', '64:ff9b:1:0::/64'],
  ])('%s → %s', (ip, bucket) => {
    expect(clientBucket(ip)).toBe(bucket);
  });
});

describe('lock durations', () => {
  const policy = { max: 3, windowMs: 60_000, backoffMs: 1_000, maxBackoffMs: 5_000 };
  it('doubles per hit past max, up to the cap; a plain window has none', () => {
    expect([3, 4, 5, 6, 7, 1000].map((count) => lockMs(policy, count))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
    expect(lockMs({ ...policy, backoffMs: 0 }, 5)).toBeNull();
  });
  it('Retry-After is whole seconds, at least 1', () => {
    expect([1, 999, 1000, 1001, 0].map(retryAfterSeconds)).toEqual([1, 1, 1, 2, 1]);
  });
});

describe('limits config', () => {
  it('has defaults and rejects unknown keys and a cap below the back-off', () => {
    const { limits } = configSchema.parse({});
    expect(limits.enabled).toBe(true);
    expect(limits.login_account).toEqual({ max: 5, window: 900_000, backoff: 30_000, max_backoff: 900_000 });
    expect(limits.refresh_ip.backoff).toBe(0);
    expect(configSchema.safeParse({ limits: { login_acount: {} } }).success).toBe(false);
    expect(configSchema.safeParse({ limits: { login_ip: { backoff: '1m', max_backoff: '10s' } } }).success).toBe(false);
    expect(configSchema.safeParse({ limits: { login_ip: { window: '0s' } } }).success).toBe(false);
  });
});
