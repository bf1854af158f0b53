import { createHash, createHmac, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { normaliseEmail } from '../users/email.js';
import { compactUuid, uuidFromHex } from '../util/uuid.js';

/** How long a device token stays valid after the login that issued it (unless the password changes first). */
export const DEVICE_TOKEN_LIFETIME_MS = 365 * 24 * 60 * 60 * 1000;

/** The account an e-mail names, as brute-force limits count it: hashed, so no address appears in Redis keys. */
export const accountSubject = (email: string) => createHash('sha256').update(normaliseEmail(email)).digest('base64url').slice(0, 22);

const PREFIX = 'dt1.';
const SHAPE = /^dt1\.([0-9a-f]{32})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})\.([1-9][0-9]{0,11})\.([A-Za-z0-9_-]{43})$/;

/** What a device token that verified says: which device, of which user, trusted under which password. */
export interface TrustedDevice {
  deviceId: string;
  userId: string;
  /** A keyed fingerprint of the password hash the token was issued under. */
  passwordMark: string;
}

/**
 * Trusted-device tokens (OWASP's "device cookies"): a client that proves the password gets one,
 * bound to the account; a later login of that account presenting it is counted on the device's
 * own failure counter instead of the account's, so a stranger who keeps the account locked does
 * not lock its owner out of the devices they logged in from. The token grants nothing else, and
 * dies with the password it was issued under (`stillTrusted`), so whoever once knew an old
 * password keeps no extra guesses at the new one.
 * `dt1.<user id>.<password mark>.<device id>.<expiry, epoch s>.<mac>`, mac = HMAC-SHA256(secret,
 * `dt1.` ‖ account ‖ the rest): the prefix keeps these MACs apart from the refresh tokens' (`rt1.`),
 * and the mark (a keyed fingerprint: it reveals nothing of the hash) is checked only for a token
 * whose MAC holds, so forged tokens cost no database read.
 */
export function createDeviceTokens(secret: KeyObject, { now = Date.now }: { now?: () => number } = {}) {
  const mac = (account: string, body: string) => createHmac('sha256', secret).update(PREFIX).update(account).update('.').update(body).digest();
  const passwordMark = (passwordHash: string) => createHmac('sha256', secret).update('dt1-password.').update(passwordHash).digest().subarray(0, 16);

  return {
    /** A new token for a client that just proved `passwordHash`'s password of `account` (see `accountSubject`). */
    issue(account: string, { userId, passwordHash }: { userId: string; passwordHash: string }): string {
      const expires = Math.floor((now() + DEVICE_TOKEN_LIFETIME_MS) / 1000);
      const body = `${compactUuid(userId)}.${passwordMark(passwordHash).toString('base64url')}.${randomBytes(16).toString('base64url')}.${expires}`;
      return `${PREFIX}${body}.${mac(account, body).toString('base64url')}`;
    },

    /** What a live token issued for `account` says; `null` for anything else. Its password is for `stillTrusted`. */
    verify(account: string, token: string): TrustedDevice | null {
      const match = SHAPE.exec(token);
      if (!match) return null;
      const [, user = '', mark = '', deviceId = '', expires = '', tag = ''] = match;
      if (Number(expires) * 1000 <= now()) return null;
      const given = Buffer.from(tag, 'base64url');
      // One spelling per token: a non-canonical base64url tag is refused.
      if (given.toString('base64url') !== tag) return null;
      const body = token.slice(PREFIX.length, token.length - tag.length - 1);
      if (!timingSafeEqual(mac(account, body), given)) return null;
      return { deviceId, userId: uuidFromHex(user), passwordMark: mark };
    },

    /** Whether the user's password is still the one the device was trusted under. */
    stillTrusted(device: TrustedDevice, currentPasswordHash: string): boolean {
      const current = passwordMark(currentPasswordHash);
      const given = Buffer.from(device.passwordMark, 'base64url');
      return given.length === current.length && timingSafeEqual(current, given);
    },
  };
}

export type DeviceTokens = ReturnType<typeof createDeviceTokens>;
