import type { Context } from 'hono';
import type { AppDeps } from '../app-deps.js';
import type { ProvenTokens } from '../auth/account-proof.js';
import type { TokenResponse } from '../auth/token-response.js';
import { setDeviceCookie } from './device-cookie.js';
import { setRefreshCookies } from './refresh-cookie.js';

/**
 * Sends a token response: never cached, and in cookie mode also the refresh cookies, with the
 * CSRF value in the body too (`csrf_token`): script on another origin (a same-site app calling
 * the API) cannot read the API's `__Host-csrf` cookie, yet must echo it.
 */
export function sendTokens(c: Context, deps: AppDeps, tokens: TokenResponse, extra?: object, status: 200 | 201 = 200) {
  c.header('Cache-Control', 'no-store');
  c.header('Pragma', 'no-cache');
  const csrf = deps.config.auth.refresh_cookie ? { csrf_token: setRefreshCookies(c, tokens) } : {};
  return c.json({ ...tokens, ...csrf, ...extra }, status);
}

/** Sends the token response of a client that proved the password, with its `device_token` (cookie mode: also the cookie). */
export function sendProvenTokens(c: Context, deps: AppDeps, { tokens, deviceToken }: ProvenTokens, extra?: object, status: 200 | 201 = 200) {
  if (deps.config.auth.refresh_cookie) setDeviceCookie(c, deviceToken);
  return sendTokens(c, deps, tokens, { ...extra, device_token: deviceToken }, status);
}
