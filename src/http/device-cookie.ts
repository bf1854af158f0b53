import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import type { AppDeps } from '../app-deps.js';
import { DEVICE_TOKEN_LIFETIME_MS } from '../security/device-token.js';

/** Cookie mode: the trusted-device token also lives in this HttpOnly cookie (a logout keeps it). */
export const DEVICE_COOKIE = '__Host-dt';

/** The device token a login presents: the body's `device_token`, else (cookie mode) the cookie. */
export function presentedDeviceToken(c: Context, deps: AppDeps, fromBody: string | undefined): string | undefined {
  return fromBody ?? (deps.config.auth.refresh_cookie ? getCookie(c, DEVICE_COOKIE) : undefined);
}

/** A new trusted-device token for a client that just proved the password of `email` (see security/device-token.ts). */
export function trustDevice(c: Context, deps: AppDeps, email: string): string {
  const token = deps.rateLimits.trustDevice(email);
  if (deps.config.auth.refresh_cookie) {
    setCookie(c, DEVICE_COOKIE, token, { path: '/', secure: true, sameSite: 'Strict', httpOnly: true, maxAge: DEVICE_TOKEN_LIFETIME_MS / 1000 });
  }
  return token;
}
