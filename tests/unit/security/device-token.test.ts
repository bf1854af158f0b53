import { createSecretKey, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createDeviceTokens, DEVICE_TOKEN_LIFETIME_MS } from '../../../src/security/device-token.js';

const secret = createSecretKey(randomBytes(32));
let clock = Date.UTC(2026, 0, 1);
const tokens = createDeviceTokens(secret, { now: () => clock });

describe('trusted-device tokens', () => {
  it('verify for the account they were issued to, each with a device id of its own', () => {
    const first = tokens.issue('account-a');
    const second = tokens.issue('account-a');
    expect(first).toMatch(/^dt1\.[A-Za-z0-9_-]{22}\.\d+\.[A-Za-z0-9_-]{43}$/);
    const id = tokens.verify('account-a', first);
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(tokens.verify('account-a', second)).not.toBeNull();
    expect(tokens.verify('account-a', second)).not.toBe(id);
  });

  it('are refused for another account, under another secret, altered, or re-spelled', () => {
    const token = tokens.issue('account-a');
    expect(tokens.verify('account-b', token)).toBeNull();
    expect(createDeviceTokens(createSecretKey(randomBytes(32)), { now: () => clock }).verify('account-a', token)).toBeNull();
    const [prefix, id = '', expires = '', mac = ''] = token.split('.');
    const later = String(Number(expires) + 86_400);
    expect(tokens.verify('account-a', [prefix, id, later, mac].join('.'))).toBeNull();
    expect(tokens.verify('account-a', [prefix, id, `0${expires}`, mac].join('.'))).toBeNull();
    // The tag's last character carries 2 spare bits: flipping one spells the same bytes differently.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const respelled = `${mac.slice(0, -1)}${alphabet[alphabet.indexOf(mac.at(-1) ?? 'A') ^ 1] ?? ''}`;
    expect(Buffer.from(respelled, 'base64url').equals(Buffer.from(mac, 'base64url'))).toBe(true);
    expect(tokens.verify('account-a', [prefix, id, expires, respelled].join('.'))).toBeNull();
    for (const junk of ['', 'dt1.', 'rt1.x.y', `${token}x`, token.replace('dt1.', 'dt2.')]) expect(tokens.verify('account-a', junk)).toBeNull();
  });

  it('expire after their lifetime', () => {
    const start = clock;
    const token = tokens.issue('account-a');
    clock = start + DEVICE_TOKEN_LIFETIME_MS - 1000;
    expect(tokens.verify('account-a', token)).not.toBeNull();
    clock = start + DEVICE_TOKEN_LIFETIME_MS;
    expect(tokens.verify('account-a', token)).toBeNull();
    clock = start;
  });
});
