import { createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { accountSubject, createDeviceTokens, DEVICE_TOKEN_LIFETIME_MS } from '../../../src/security/device-token.js';

const secret = createSecretKey(randomBytes(32));
let clock = Date.UTC(2026, 0, 1);
const tokens = createDeviceTokens(secret, { now: () => clock });
const user = { userId: randomUUID(), passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g' };
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('trusted-device tokens', () => {
  it('verify for the account they were issued to, saying which user, each with a device id of its own', () => {
    const first = tokens.issue('account-a', user);
    const second = tokens.issue('account-a', user);
    expect(first).toMatch(/^dt1\.[0-9a-f]{32}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}\.\d+\.[A-Za-z0-9_-]{43}$/);
    expect(first).not.toContain(user.passwordHash.slice(-10));
    const device = tokens.verify('account-a', first);
    expect(device).toMatchObject({ deviceId: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), userId: user.userId });
    expect(tokens.verify('account-a', second)?.deviceId).not.toBe(device?.deviceId);
  });

  it('stay trusted only under the password hash they were issued under', () => {
    const device = tokens.verify('account-a', tokens.issue('account-a', user));
    if (!device) throw new Error('expected the token to verify');
    expect(tokens.stillTrusted(device, user.passwordHash)).toBe(true);
    expect(tokens.stillTrusted(device, `${user.passwordHash}x`)).toBe(false);
    expect(tokens.stillTrusted({ ...device, passwordMark: 'short' }, user.passwordHash)).toBe(false);
  });

  it('are refused for another account, under another secret, altered, or re-spelled', () => {
    const token = tokens.issue('account-a', user);
    expect(tokens.verify('account-b', token)).toBeNull();
    expect(createDeviceTokens(createSecretKey(randomBytes(32)), { now: () => clock }).verify('account-a', token)).toBeNull();
    const [prefix, id, mark = '', device, expires = '', mac = ''] = token.split('.');
    const rebuilt = (parts: Array<string | undefined>) => parts.join('.');
    expect(tokens.verify('account-a', rebuilt([prefix, id, mark, device, expires, mac]))).not.toBeNull();
    const otherMark = tokens.issue('account-a', { ...user, passwordHash: 'another hash' }).split('.')[2];
    expect(tokens.verify('account-a', rebuilt([prefix, id, otherMark, device, expires, mac]))).toBeNull();
    expect(tokens.verify('account-a', rebuilt([prefix, randomUUID().replaceAll('-', ''), mark, device, expires, mac]))).toBeNull();
    expect(tokens.verify('account-a', rebuilt([prefix, id, mark, device, String(Number(expires) + 86_400), mac]))).toBeNull();
    // The tag's last character carries 2 spare bits: flipping one spells the same bytes differently.
    const respelled = `${mac.slice(0, -1)}${ALPHABET[ALPHABET.indexOf(mac.at(-1) ?? 'A') ^ 1] ?? ''}`;
    expect(Buffer.from(respelled, 'base64url').equals(Buffer.from(mac, 'base64url'))).toBe(true);
    expect(tokens.verify('account-a', rebuilt([prefix, id, mark, device, expires, respelled]))).toBeNull();
    for (const junk of ['', 'dt1.', 'rt1.x.y', `${token}x`, token.replace('dt1.', 'dt2.')]) expect(tokens.verify('account-a', junk)).toBeNull();
  });

  it('expire after their lifetime', () => {
    const start = clock;
    const token = tokens.issue('account-a', user);
    clock = start + DEVICE_TOKEN_LIFETIME_MS - 1000;
    expect(tokens.verify('account-a', token)).not.toBeNull();
    clock = start + DEVICE_TOKEN_LIFETIME_MS;
    expect(tokens.verify('account-a', token)).toBeNull();
    clock = start;
  });

  it('name the account by its normalised e-mail', () => {
    expect(accountSubject(' Bob@Example.COM ')).toBe(accountSubject('bob@example.com'));
    expect(accountSubject('bob@example.com')).not.toBe(accountSubject('alice@example.com'));
  });
});
