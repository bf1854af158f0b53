import { randomBytes, randomUUID } from 'node:crypto';
import type { SessionGrant, SessionMeta } from '../sessions/session-store.js';
import type { User } from '../users/user-store.js';
import type { AuthDeps } from './deps.js';

/** The token response body of DESIGN.md (OAuth 2.0 style). */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
  session_id: string;
}

/** Mints the access token and the deterministic refresh token for a session's current state. */
export function tokenResponse(
  deps: Pick<AuthDeps, 'accessTokens' | 'refreshTokens'>,
  userId: string,
  sessionId: string,
  salt: string,
  grant: SessionGrant,
): TokenResponse {
  const { token } = deps.accessTokens.sign({ userId, sessionId, tokenVersion: grant.tokenVersion, roles: grant.roles });
  return {
    access_token: token,
    token_type: 'Bearer',
    expires_in: deps.accessTokens.lifetimeSeconds,
    refresh_token: deps.refreshTokens.encode({ userId, sessionId, generation: grant.generation }, salt),
    refresh_expires_in: Math.max(0, Math.floor((grant.expiresAt - Date.now()) / 1000)),
    session_id: sessionId,
  };
}

/** Starts a new session (token family) for `user` and returns its first token pair. */
export async function startSession(deps: AuthDeps, user: User, meta: SessionMeta): Promise<TokenResponse> {
  const sessionId = randomUUID();
  const salt = randomBytes(16).toString('base64url');
  const grant = await deps.sessions.create({ userId: user.id, sessionId, salt, roles: user.roles, meta });
  deps.sessionSalts.set(sessionId, salt, grant.expiresAt, Date.now());
  return tokenResponse(deps, user.id, sessionId, salt, grant);
}
