import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import type { AppDeps } from '../app-deps.js';
import { DEVICE_TOKEN_LIFETIME_MS } from '../security/device-token.js';
import { SECURE_COOKIE } from './refresh-cookie.js';

/** Cookie mode: the trusted-device token also lives in this HttpOnly cookie (a logout keeps it). */
const DEVICE_COOKIE = '__Host-dt';

/** The device token a request presents: the body's `device_token`, else (cookie mode) the cookie. */
export function presentedDeviceToken(c: Context, deps: AppDeps, fromBody: string | undefined): string | undefined {
  return fromBody ?? (deps.config.auth.refresh_cookie ? getCookie(c, DEVICE_COOKIE) : undefined);
}

/** Cookie mode: keeps a new device token in the browser (see security/device-token.ts). */
export function setDeviceCookie(c: Context, deviceToken: string) {
  setCookie(c, DEVICE_COOKIE, deviceToken, { ...SECURE_COOKIE, httpOnly: true, maxAge: DEVICE_TOKEN_LIFETIME_MS / 1000 });
}
