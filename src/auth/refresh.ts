import type { AuditClient } from '../audit/events.js';
import { AppError, UnavailableError } from '../errors.js';
import type { RefreshOutcome } from '../observability/metrics.js';
import type { DecodedRefreshToken } from '../tokens/refresh-token.js';
import type { AuthDeps } from './deps.js';
import { tokenResponse, type TokenResponse } from './token-response.js';

/** The answer to every refused refresh token, superseded ones too: its holder learns nothing more. */
const INVALID_GRANT = 'the refresh token is invalid, expired or revoked';
const invalidGrant = () => new AppError('invalid_grant', INVALID_GRANT);

/**
 * A refresh token a password change replaced: refused, while its session lives on with the token
 * the change answered. Cookie mode leaves the cookies alone for it: another tab's refresh sent
 * just before the change must not delete the cookie the change set.
 */
export class SupersededRefreshToken extends AppError {
  constructor() {
    super('invalid_grant', INVALID_GRANT);
  }
}

/**
 * Decodes a refresh token and checks its MAC under the session's salt. Forged or altered
 * tokens end here, before any state changes. Returns the token and its salt, or `null`.
 * A session whose salt this instance has seen (`sessionSalts`; a salt never changes) has it
 * from there, not from the store: a rotation then costs one Redis round trip, not two. A stale
 * salt (session ended) is harmless: the rotate script compares it with the stored one.
 */
async function authenticRefreshToken(deps: AuthDeps, token: string): Promise<{ decoded: DecodedRefreshToken; salt: string } | null> {
  const decoded = deps.refreshTokens.decode(token);
  if (!decoded) return null;
  const known = deps.sessionSalts.get(decoded.sessionId, Date.now());
  if (known !== undefined && deps.refreshTokens.verify(decoded, known)) return { decoded, salt: known };
  const salt = await deps.sessions.getSalt(decoded.userId, decoded.sessionId);
  if (salt === null || !deps.refreshTokens.verify(decoded, salt)) return null;
  return { decoded, salt };
}

/**
 * Rotates a refresh token (RFC 9700 §4.14.2). The store decides atomically: rotate, replay the
 * identical successor inside the grace window, or treat anything older as reuse and end the family.
 */
export async function refresh(deps: AuthDeps, token: string, client: AuditClient): Promise<TokenResponse> {
  // One outcome per request: an outage after the decision (a reuse's end not yet acknowledged) is not counted again.
  let counted = false;
  const count = (outcome: RefreshOutcome) => {
    counted = true;
    deps.metrics.refresh(outcome);
  };
  try {
    return await rotateRefreshToken(deps, token, client, count);
  } catch (error) {
    if (error instanceof UnavailableError && !counted) count('unavailable');
    throw error;
  }
}

async function rotateRefreshToken(deps: AuthDeps, token: string, client: AuditClient, count: (outcome: RefreshOutcome) => void): Promise<TokenResponse> {
  const authentic = await authenticRefreshToken(deps, token);
  if (!authentic) {
    count('invalid');
    throw invalidGrant();
  }
  const { decoded, salt } = authentic;
  const { userId, sessionId } = decoded;
  const result = await deps.sessions.rotate({ userId, sessionId, generation: decoded.generation, salt });
  if (result.outcome === 'superseded') {
    count('invalid');
    deps.logger.info({ event: 'refresh_superseded', userId, sessionId, generation: decoded.generation }, 'refresh token from before a password change refused');
    throw new SupersededRefreshToken();
  }
  count(result.outcome);
  if (result.outcome === 'rotated' || result.outcome === 'replayed') deps.sessionSalts.set(sessionId, salt, result.expiresAt, Date.now());
  else deps.sessionSalts.delete(sessionId);
  if (result.outcome === 'reused') {
    deps.logger.warn({ event: 'refresh_reused', userId, sessionId, generation: decoded.generation }, 'refresh token reuse: session revoked');
    // Who presented it: the thief, or the client it was stolen from.
    deps.audit.record({ event: 'refresh_reused', userId, sessionId, ...client, details: { generation: decoded.generation } });
    // The rotation ended the family already. Ending it again is a revocation like every other: with
    // replicated revocations (Sentinel) it repeats the end on the revocations' connection, which
    // holds even if the rotation's connection still talked to an old master, and answers 503 until
    // a replica holds it. Recorded first: a reuse is never lost to that 503.
    await deps.sessions.endSession(userId, sessionId);
    throw invalidGrant();
  }
  if (result.outcome === 'invalid') throw invalidGrant();
  return tokenResponse(deps, userId, sessionId, salt, result);
}
