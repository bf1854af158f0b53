import { createHmac, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

/** How long a device stays trusted after its last successful login. */
export const DEVICE_TOKEN_LIFETIME_MS = 365 * 24 * 60 * 60 * 1000;

const PREFIX = 'dt1.';
const SHAPE = /^dt1\.([A-Za-z0-9_-]{22})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$/;

/**
 * Trusted-device tokens (OWASP's "device cookies"): a successful login hands the client one,
 * bound to the account; a later login of that account presenting it is counted on the device's
 * own failure counter instead of the account's, so a stranger who keeps the account locked does
 * not lock its owner out of the devices they have logged in from. The token grants nothing else.
 * `dt1.<device id>.<expiry, epoch s>.<mac>`, mac = HMAC-SHA256(secret, `dt1.` ‖ account ‖ id ‖ expiry):
 * the `dt1.` prefix keeps these MACs apart from the refresh tokens' (`rt1.`) under the same secret.
 */
export function createDeviceTokens(secret: KeyObject, { now = Date.now }: { now?: () => number } = {}) {
  const mac = (account: string, id: string, expires: string) =>
    createHmac('sha256', secret).update(PREFIX).update(account).update('.').update(id).update('.').update(expires).digest();

  return {
    /** A new token for a device that just proved the password of `account`. */
    issue(account: string): string {
      const id = randomBytes(16).toString('base64url');
      const expires = String(Math.floor((now() + DEVICE_TOKEN_LIFETIME_MS) / 1000));
      return `${PREFIX}${id}.${expires}.${mac(account, id, expires).toString('base64url')}`;
    },

    /** The device id of a live token issued for `account`; `null` for anything else. */
    verify(account: string, token: string): string | null {
      const match = SHAPE.exec(token);
      if (!match) return null;
      const [, id = '', expires = '', tag = ''] = match;
      if (Number(expires) * 1000 <= now()) return null;
      const given = Buffer.from(tag, 'base64url');
      // One spelling per token: a non-canonical base64url tag is refused.
      if (given.toString('base64url') !== tag) return null;
      return timingSafeEqual(mac(account, id, expires), given) ? id : null;
    },
  };
}

export type DeviceTokens = ReturnType<typeof createDeviceTokens>;
