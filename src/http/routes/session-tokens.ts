import { Hono, type Context } from 'hono';
import { getCookie } from 'hono/cookie';
import type { AppDeps } from '../../app-deps.js';
import type { AuditClient } from '../../audit/events.js';
import { refresh, SupersededRefreshToken } from '../../auth/refresh.js';
import { logoutAll, logoutWithAccessToken, logoutWithRefreshToken, revokeToken } from '../../auth/revocation.js';
import { requireAccessToken } from '../access-token-auth.js';
import type { AppEnv } from '../app-env.js';
import { bearerToken } from '../bearer.js';
import type { ClientIp } from '../client-ip.js';
import { AppError, BEARER_CHALLENGE } from '../../errors.js';
import { readJson } from '../json-body.js';
import { clearRefreshCookies, cookieRefreshToken, REFRESH_COOKIE } from '../refresh-cookie.js';
import { refreshTokenBody, revokeBody } from '../request-schemas.js';
import { sendTokens } from '../send-tokens.js';
import { auditClientOf } from '../session-meta.js';

/** `/refresh`, `/logout`, `/logout-all`, `/revoke`. */
export function sessionTokenRoutes(deps: AppDeps, clientIp: ClientIp) {
  const limit = deps.config.server.body_limit;
  const tolerance = deps.config.auth.clock_tolerance;
  const cookies = deps.config.auth.refresh_cookie;
  const refreshTokenOf = (c: Context, fromBody: string | undefined) =>
    fromBody ?? (cookies ? cookieRefreshToken(c) : undefined);
  /**
   * A refresh cookie the service refuses (`invalid_grant`) is cleared with the answer, not left in
   * the browser; one a password change replaced is not (the browser may hold the new one by then).
   */
  const refusedGrant = (c: Context, error: unknown, fromCookie: boolean) => {
    const dead = error instanceof AppError && error.code === 'invalid_grant' && !(error instanceof SupersededRefreshToken);
    if (cookies && fromCookie && dead) clearRefreshCookies(c);
    return error;
  };

  /** `/logout` with the refresh token of the body (or the cookie in cookie mode): the token, where it came from, and whether it logged out. */
  const logoutByRefreshToken = async (c: Context, client: AuditClient) => {
    const body = await readJson(c, refreshTokenBody, limit, { optional: true });
    const token = refreshTokenOf(c, body.refresh_token);
    const ended = token !== undefined && (await logoutWithRefreshToken(deps, token, client));
    return { token, fromCookie: body.refresh_token === undefined, ended };
  };
  /**
   * `/logout`'s second chance after a refused access token; no usable body or cookie is a no
   * (`undefined`). An outage is an outage, and a refresh cookie sent without its CSRF header is
   * refused as ever (403).
   */
  const logoutByRefreshTokenToo = (c: Context, client: AuditClient) =>
    logoutByRefreshToken(c, client).catch((error: unknown) => {
      if (error instanceof AppError && (error.code === 'unavailable' || error.code === 'forbidden')) throw error;
      return undefined;
    });
  /** The session a refresh token of ours names (its MAC unchecked). */
  const sessionNamedBy = (token: string | undefined) => (token === undefined ? undefined : deps.refreshTokens.decode(token)?.sessionId);
  /** The session a body's refresh token ended, as a list: the cookie stays if it names another one (none: it goes). */
  const endedByBodyToken = ({ token, fromCookie }: { token: string | undefined; fromCookie: boolean }): string[] => {
    const named = fromCookie ? undefined : sessionNamedBy(token);
    return named === undefined ? [] : [named];
  };

  /**
   * After a logout by access token: a refresh token the body names too is the client's, so its
   * session ends as well when it is another one (not the cookie's, which the browser sends by
   * itself). A body that cannot be read, or a token that does not verify, changes nothing more.
   * Returns the session it ended, if any, as a list.
   */
  const logoutNamedInBodyToo = async (c: Context, sessionId: string, client: AuditClient): Promise<string[]> => {
    const body = await readJson(c, refreshTokenBody, limit, { optional: true }).catch(() => undefined);
    const token = body?.refresh_token;
    const named = sessionNamedBy(token);
    if (token === undefined || named === undefined || named === sessionId) return [];
    return (await logoutWithRefreshToken(deps, token, client)) ? [named] : [];
  };

  /** The browser's refresh cookie is one of ours naming a session other than those `ended`. */
  const otherSessionsCookie = (c: Context, ended: readonly string[]) => {
    const named = sessionNamedBy(getCookie(c, REFRESH_COOKIE));
    return named !== undefined && !ended.includes(named);
  };

  return new Hono<AppEnv>()
    .post('/refresh', async (c) => {
      await deps.rateLimits.refresh(clientIp(c));
      const body = await readJson(c, refreshTokenBody, limit, { optional: true });
      const token = refreshTokenOf(c, body.refresh_token);
      if (!token) throw new AppError('invalid_request', 'refresh_token is required');
      const tokens = await refresh(deps, token, auditClientOf(c, clientIp)).catch((error: unknown) => {
        throw refusedGrant(c, error, body.refresh_token === undefined);
      });
      return sendTokens(c, deps, tokens);
    })
    .post('/logout', async (c) => {
      const accessToken = bearerToken(c.req.header('authorization'));
      const client = auditClientOf(c, clientIp);
      /** The sessions whose refresh cookie this logout clears; none: whichever the cookie names. */
      let endedSessions: string[] = [];
      if (accessToken) {
        // An expired but authentic access token may still log out (its signature is checked).
        const result = deps.accessTokens.verify(accessToken, { allowExpired: true });
        const loggedOut = result.ok && (await logoutWithAccessToken(deps, result.claims, tolerance, client));
        if (loggedOut) endedSessions = [result.claims.sessionId, ...(await logoutNamedInBodyToo(c, result.claims.sessionId, client))];
        else {
          // A refused one (say, of the version before a password change made in another tab) must
          // not keep alive the session a refresh token sent with it names: that one logs out.
          const fallback = await logoutByRefreshTokenToo(c, client);
          if (!fallback?.ended) throw new AppError('invalid_token', result.ok ? 'the access token is revoked' : 'the access token is invalid');
          endedSessions = endedByBodyToken(fallback);
        }
      } else {
        const outcome = await logoutByRefreshToken(c, client);
        // Like every route that needs a credential (`/logout-all`, `/me`): none at all is a 401.
        if (!outcome.token) throw new AppError('invalid_token', 'send an access token (Authorization: Bearer) or refresh_token', { challenge: BEARER_CHALLENGE });
        if (!outcome.ended) throw refusedGrant(c, new AppError('invalid_grant', 'the refresh token is invalid'), outcome.fromCookie);
        // A body token of another session than the cookie's leaves the cookie, as an access token does.
        endedSessions = endedByBodyToken(outcome);
      }
      // An access token of another session logs that one out: a refresh cookie naming a different
      // session stays (that session lives on).
      if (cookies && !(endedSessions.length > 0 && otherSessionsCookie(c, endedSessions))) clearRefreshCookies(c);
      return c.body(null, 204);
    })
    .post('/logout-all', requireAccessToken(deps.accessTokens, deps.sessions), async (c) => {
      await logoutAll(deps, c.var.claims.userId, auditClientOf(c, clientIp));
      if (cookies) clearRefreshCookies(c);
      return c.body(null, 204);
    })
    .post('/revoke', async (c) => {
      // JSON, or the form encoding RFC 7009 itself uses (what OAuth client libraries send).
      const body = await readJson(c, revokeBody, limit, { form: true });
      await revokeToken(deps, body.token, body.token_type_hint, tolerance, auditClientOf(c, clientIp));
      return c.json({}, 200);
    });
}
