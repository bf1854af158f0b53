import { createMiddleware } from 'hono/factory';
import type { SessionStore } from '../sessions/session-store.js';
import type { AccessTokens } from '../tokens/access-token.js';
import type { AppEnv } from './app-env.js';
import { bearerToken } from './bearer.js';
import { AppError, BEARER_CHALLENGE, TOKEN_REQUIRED } from '../errors.js';

/**
 * Requires a valid, unrevoked access token (signature, claims, session alive, token version
 * current, jti not denied) and puts its claims in `c.var.claims`.
 */
export function requireAccessToken(accessTokens: AccessTokens, sessions: SessionStore) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    if (!token) throw new AppError('invalid_token', TOKEN_REQUIRED, { challenge: BEARER_CHALLENGE });
    const result = accessTokens.verify(token);
    const state = result.ok ? await sessions.authenticate(result.claims) : undefined;
    if (!result.ok || state !== 'ok') throw new AppError('invalid_token', 'the access token is invalid, expired or revoked');
    c.set('claims', result.claims);
    await next();
  });
}
