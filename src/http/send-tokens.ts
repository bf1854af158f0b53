import type { Context } from 'hono';
import type { AppDeps } from '../app-deps.js';
import type { TokenResponse } from '../auth/token-response.js';
import { setRefreshCookies } from './refresh-cookie.js';

/** Sends a token response: never cached, and in cookie mode also the refresh cookies. */
export function sendTokens(c: Context, deps: AppDeps, tokens: TokenResponse, extra?: object, status: 200 | 201 = 200) {
  c.header('Cache-Control', 'no-store');
  c.header('Pragma', 'no-cache');
  if (deps.config.auth.refresh_cookie) setRefreshCookies(c, tokens);
  return c.json({ ...tokens, ...extra }, status);
}
