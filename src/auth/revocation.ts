import type { AccessClaims } from '../tokens/access-token.js';
import type { AuthDeps } from './deps.js';

/** Milliseconds until an access token expires on its own (plus tolerance): how long its jti must stay denied. */
export const remainingLifetimeMs = (claims: AccessClaims, toleranceMs: number) => claims.expiresAt * 1000 - Date.now() + toleranceMs;

/**
 * Ends the session an access token belongs to and denies the token itself. A token the service
 * already refuses ends nothing and gets `false`: one of an older token version (a password change
 * keeps the caller's session, which its old tokens must not end) or one revoked while its session
 * lives. A token of a session already ended goes on: the end is repeated, so a retried logout
 * (after a 503) is acknowledged like the first.
 */
export async function logoutWithAccessToken(deps: AuthDeps, claims: AccessClaims, toleranceMs: number): Promise<boolean> {
  const state = await deps.sessions.authenticate(claims);
  if (state === 'stale_version') return false;
  if (state === 'denied' && (await deps.sessions.getSalt(claims.userId, claims.sessionId)) !== null) return false;
  await deps.sessions.endSession(claims.userId, claims.sessionId, {
    jti: claims.jti,
    ttlMs: remainingLifetimeMs(claims, toleranceMs),
  });
  deps.logger.info({ event: 'logout', userId: claims.userId, sessionId: claims.sessionId }, 'logout');
  deps.audit.record({ event: 'logout', userId: claims.userId, sessionId: claims.sessionId, details: { via: 'access_token' } });
  return true;
}

/**
 * Ends the session of a refresh token; `false` when the token is not one of ours (malformed, or
 * not matching its live session). A well-formed token of a session that no longer exists cannot
 * be checked (its salt ended with it) and has nothing left to end: the end is repeated anyway (on
 * Sentinel it waits for the replica as the first did) and the answer is the same, so a retried or
 * doubled logout is acknowledged like the first.
 */
export async function logoutWithRefreshToken(deps: AuthDeps, token: string): Promise<boolean> {
  const decoded = deps.refreshTokens.decode(token);
  if (!decoded) return false;
  const { userId, sessionId } = decoded;
  const salt = await deps.sessions.getSalt(userId, sessionId);
  if (salt !== null && !deps.refreshTokens.verify(decoded, salt)) return false;
  const ended = await deps.sessions.endSession(userId, sessionId);
  if (!ended) return true;
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
