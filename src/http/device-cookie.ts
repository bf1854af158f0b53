import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import type { AppDeps } from '../app-deps.js';
import type { ProvenTokens } from '../auth/credentials.js';
import { DEVICE_TOKEN_LIFETIME_MS } from '../security/device-token.js';
import { sendTokens } from './send-tokens.js';

/** Cookie mode: the trusted-device token also lives in this HttpOnly cookie (a logout keeps it). */
export const DEVICE_COOKIE = '__Host-dt';

/** The device token a request presents: the body's `device_token`, else (cookie mode) the cookie. */
export function presentedDeviceToken(c: Context, deps: AppDeps, fromBody: string | undefined): string | undefined {
  return fromBody ?? (deps.config.auth.refresh_cookie ? getCookie(c, DEVICE_COOKIE) : undefined);
}

/** Sends the token response of a client that proved the password, with its `device_token` (and, in cookie mode, the cookie). */
export function sendProvenTokens(c: Context, deps: AppDeps, { tokens, deviceToken }: ProvenTokens, extra?: object, status: 200 | 201 = 200) {
  if (deps.config.auth.refresh_cookie) {
    setCookie(c, DEVICE_COOKIE, deviceToken, { path: '/', secure: true, sameSite: 'Strict', httpOnly: true, maxAge: DEVICE_TOKEN_LIFETIME_MS / 1000 });
  }
  return sendTokens(c, deps, tokens, { ...extra, device_token: deviceToken }, status);
}
