import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { TokenResponse } from '../auth/token-response.js';
import { AppError } from '../errors.js';

export const REFRESH_COOKIE = '__Host-rt';
const CSRF_COOKIE = '__Host-csrf';
const CSRF_HEADER = 'X-CSRF-Token';

/** Every cookie of the service: the `__Host-` prefix's rules (Secure, Path=/, no Domain), same site only. */
export const SECURE_COOKIE = { path: '/', secure: true, sameSite: 'Strict' } as const;

/**
 * The longest cookie lifetime, in seconds: 400 days. Browsers cap Max-Age there (RFC 6265bis),
 * and Hono refuses to write a longer one. A session idle for longer keeps its cookie until then.
 */
const MAX_COOKIE_AGE = 400 * 24 * 60 * 60;

/** A CSRF value as `setRefreshCookies` draws it (18 random bytes, base64url). */
const CSRF_VALUE = /^[A-Za-z0-9_-]{24}$/;

/**
 * Cookie mode: sets the HttpOnly refresh cookie and a readable CSRF cookie (double submit), and
 * returns the CSRF value (the body carries it too: an app on another origin cannot read the
 * API's cookie). A CSRF value the request already carries is kept: tabs and a cross-origin app
 * keep sending the one they know. Only this host can set a `__Host-` cookie.
 */
export function setRefreshCookies(c: Context, tokens: TokenResponse): string {
  const maxAge = Math.min(tokens.refresh_expires_in, MAX_COOKIE_AGE);
  const held = getCookie(c, CSRF_COOKIE);
  const csrf = held !== undefined && CSRF_VALUE.test(held) ? held : randomBytes(18).toString('base64url');
  setCookie(c, REFRESH_COOKIE, tokens.refresh_token, { ...SECURE_COOKIE, httpOnly: true, maxAge });
  setCookie(c, CSRF_COOKIE, csrf, { ...SECURE_COOKIE, httpOnly: false, maxAge });
  return csrf;
}

export function clearRefreshCookies(c: Context) {
  deleteCookie(c, REFRESH_COOKIE, { ...SECURE_COOKIE });
  deleteCookie(c, CSRF_COOKIE, { ...SECURE_COOKIE });
}

/**
 * The refresh token from the cookie, if there is one. A cookie-authenticated request must
 * echo the CSRF cookie in the `X-CSRF-Token` header, else 403 `forbidden`.
 */
export function cookieRefreshToken(c: Context): string | undefined {
  const token = getCookie(c, REFRESH_COOKIE);
  if (!token) return undefined;
  const expected = Buffer.from(getCookie(c, CSRF_COOKIE) ?? '');
  const given = Buffer.from(c.req.header(CSRF_HEADER) ?? '');
  if (expected.length === 0 || expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new AppError('forbidden', `cookie-authenticated requests need the ${CSRF_HEADER} header matching the ${CSRF_COOKIE} cookie`);
  }
  return token;
}
