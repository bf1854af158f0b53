import type { AuditClient } from '../audit/events.js';
import { reportEvent } from '../audit/report.js';
import type { AccessClaims } from '../tokens/access-token.js';
import type { AuthDeps } from './deps.js';

/**
 * Redis refuses an expiry whose time overflows 64 bits of milliseconds: a token signed to live
 * longer (only a holder of the signing key can make one) is denied for 10,000 years, which
 * outlives its session (durations stop at 87600h) and any use of it.
 */
const MAX_DENY_MS = 10_000 * 365 * 24 * 3_600_000;

/** Milliseconds until an access token expires on its own (plus tolerance): how long its jti must stay denied. */
const remainingLifetimeMs = (claims: AccessClaims, toleranceMs: number) =>
  Math.min(claims.expiresAt * 1000 - Date.now() + toleranceMs, MAX_DENY_MS);

/**
 * A token `/revoke` just verified as unexpired is denied for a second at least: its end may pass
 * between the check and the clock read that times the denial, and an instance whose clock is
 * behind still accepts it (the session's own record of the denial then refuses it there). A
 * logout needs no such floor: it ends the session, which every token needs.
 */
const MIN_DENY_MS = 1000;

/**
 * Ends the session an access token belongs to and denies the token itself, in one script. A
 * token the service already refuses ends nothing and gets `false`: one of an older token version
 * (a password change keeps the caller's session, which its old tokens must not end) or one
 * revoked (while its session records it: until a full session drops it, twice its denial's length
 * after). A token of a session already ended is acknowledged again (an unexpired one's jti denied
 * again, nothing recorded), so a retried logout (after a 503) is answered like the first.
 */
export async function logoutWithAccessToken(deps: AuthDeps, claims: AccessClaims, toleranceMs: number, client: AuditClient): Promise<boolean> {
  const { userId, sessionId, jti, tokenVersion } = claims;
  const outcome = await deps.sessions.logout(userId, sessionId, { jti, tokenVersion, ttlMs: remainingLifetimeMs(claims, toleranceMs) });
  if (outcome === 'refused') return false;
  deps.sessionSalts.delete(sessionId); // the session is gone: its salt would only take room
  // Recorded once, when the session ends: a replay (of an old token, `/logout` has no rate
  // limit) ends nothing and must not fill the audit trail, whose queue drops its oldest events.
  if (outcome === 'ended') {
    reportEvent(deps, { event: 'logout', userId, sessionId, ...client, details: { via: 'access_token' } }, 'logout');
  }
  return true;
}

/**
 * Ends the session of a refresh token; `false` when the token is not one of ours (malformed, or
 * not matching its live session) or is from before a password change that kept its session (a
 * stolen old token must not log its owner out). A well-formed token of a session that no longer exists cannot
 * be checked (its salt ended with it), so it writes nothing — a forged one must change nothing —
 * and is answered as done once the earlier revocations are confirmed: a retried or doubled
 * logout gets the same answer as the first (on Sentinel, after the replica's acknowledgement, and
 * only if the master revocations are written to has no such session either).
 */
export async function logoutWithRefreshToken(deps: AuthDeps, token: string, client: AuditClient): Promise<boolean> {
  const decoded = deps.refreshTokens.decode(token);
  if (!decoded) return false;
  const { userId, sessionId } = decoded;
  const salt = await deps.sessions.getSalt(userId, sessionId);
  if (salt === null) {
    await deps.sessions.confirmEnded(userId, sessionId);
    return true;
  }
  if (!deps.refreshTokens.verify(decoded, salt)) return false;
  // A token from before a password change is only refused: the session the change kept goes on.
  const outcome = await deps.sessions.logoutWithRefreshToken(userId, sessionId, decoded.generation);
  if (outcome === 'refused') return false;
  deps.sessionSalts.delete(sessionId);
  if (outcome === 'ended') {
    reportEvent(deps, { event: 'logout', userId, sessionId, ...client, details: { via: 'refresh_token' } }, 'logout');
  }
  return true;
}

/**
 * Ends one of the caller's own sessions (`DELETE /sessions/:id`), looked up under the caller's user
 * only: another user's session id is simply not found. Returns whether it existed.
 */
export async function endOwnSession(deps: AuthDeps, caller: { userId: string; sessionId: string }, sessionId: string, client: AuditClient): Promise<boolean> {
  if (!(await deps.sessions.endSession(caller.userId, sessionId))) return false;
  deps.sessionSalts.delete(sessionId);
  reportEvent(deps, { event: 'logout', userId: caller.userId, sessionId, ...client, details: { via: 'session_list', by_session: caller.sessionId } }, 'logout');
  return true;
}

/** Ends every session of the user and invalidates every access token already issued. */
export async function logoutAll(deps: AuthDeps, userId: string, client: AuditClient) {
  await deps.sessions.endAll(userId);
  reportEvent(deps, { event: 'logout_all', userId, ...client }, 'logout from all sessions');
}

/**
 * RFC 7009 revocation: a refresh token ends its session, an access token is denied by jti.
 * Unknown or invalid tokens are ignored (the endpoint answers 200 either way).
 */
export async function revokeToken(deps: AuthDeps, token: string, hint: string | undefined, toleranceMs: number, client: AuditClient) {
  const tryRefresh = () => logoutWithRefreshToken(deps, token, client);
  const tryAccess = async () => {
    const result = deps.accessTokens.verify(token);
    if (!result.ok) return false;
    const { userId, sessionId, jti } = result.claims;
    // Recorded once per token: replaying an already revoked one (no login needed) adds nothing.
    const ttlMs = Math.max(remainingLifetimeMs(result.claims, toleranceMs), MIN_DENY_MS);
    const outcome = await deps.sessions.deny(userId, sessionId, jti, ttlMs);
    if (outcome !== 'repeated') {
      // A session full of denials still in force ends instead (see MAX_DENIED_PER_SESSION).
      const ended = outcome === 'session_ended' ? { session_ended: 'too_many_revoked_tokens' } : {};
      const event = { event: 'token_revoked', userId, sessionId, ...client, details: { token_type: 'access_token', ...ended } } as const;
      reportEvent(deps, event, 'access token revoked', ended);
    }
    return true;
  };
  const order = hint === 'access_token' ? [tryAccess, tryRefresh] : [tryRefresh, tryAccess];
  for (const attempt of order) if (await attempt()) return;
}
