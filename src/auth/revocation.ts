import type { AccessClaims } from '../tokens/access-token.js';
import type { AuthDeps } from './deps.js';
import { authenticRefreshToken } from './refresh.js';

/** Milliseconds until an access token expires on its own (plus tolerance): how long its jti must stay denied. */
export const remainingLifetimeMs = (claims: AccessClaims, toleranceMs: number) => claims.expiresAt * 1000 - Date.now() + toleranceMs;

/** Ends the session an access token belongs to and denies the token itself. */
export async function logoutWithAccessToken(deps: AuthDeps, claims: AccessClaims, toleranceMs: number) {
  await deps.sessions.endSession(claims.userId, claims.sessionId, {
    jti: claims.jti,
    ttlMs: remainingLifetimeMs(claims, toleranceMs),
  });
  deps.logger.info({ event: 'logout', userId: claims.userId, sessionId: claims.sessionId }, 'logout');
  deps.audit.record({ event: 'logout', userId: claims.userId, sessionId: claims.sessionId, details: { via: 'access_token' } });
}

/** Ends the session of an authentic refresh token; returns `false` when the token is not authentic. */
export async function logoutWithRefreshToken(deps: AuthDeps, token: string): Promise<boolean> {
  const authentic = await authenticRefreshToken(deps, token);
  if (!authentic) return false;
  const { userId, sessionId } = authentic.decoded;
  await deps.sessions.endSession(userId, sessionId);
  deps.logger.info({ event: 'logout', userId, sessionId }, 'logout');
  deps.audit.record({ event: 'logout', userId, sessionId, details: { via: 'refresh_token' } });
  return true;
}

/** Ends every session of the user and invalidates every access token already issued. */
export async function logoutAll(deps: AuthDeps, userId: string) {
  await deps.sessions.endAll(userId);
  deps.logger.info({ event: 'logout_all', userId }, 'logout from all sessions');
  deps.audit.record({ event: 'logout_all', userId });
}

/**
 * RFC 7009 revocation: a refresh token ends its session, an access token is denied by jti.
 * Unknown or invalid tokens are ignored (the endpoint answers 200 either way).
 */
export async function revokeToken(deps: AuthDeps, token: string, hint: string | undefined, toleranceMs: number) {
  const tryRefresh = () => logoutWithRefreshToken(deps, token);
  const tryAccess = async () => {
    const result = deps.accessTokens.verify(token);
    if (!result.ok) return false;
    const { userId, sessionId, jti } = result.claims;
    await deps.sessions.deny(userId, sessionId, jti, remainingLifetimeMs(result.claims, toleranceMs));
    deps.logger.info({ event: 'revoke', userId: result.claims.userId }, 'access token revoked');
    return true;
  };
  const order = hint === 'access_token' ? [tryAccess, tryRefresh] : [tryRefresh, tryAccess];
  for (const attempt of order) if (await attempt()) return;
}
