import { Hono, type Context } from 'hono';
import type { AppDeps } from '../../app-deps.js';
import type { AppEnv } from '../app-env.js';
import { bearerToken } from '../bearer.js';

const MISSING = JSON.stringify({ error: 'invalid_token', error_description: 'an access token is required' });
const INVALID = JSON.stringify({ error: 'invalid_token', error_description: 'the access token is invalid, expired or revoked' });
const UNAVAILABLE = JSON.stringify({ error: 'unavailable', error_description: 'revocation state cannot be read, retry shortly' });

function reply(c: Context, status: 401 | 503, body: string, challenge?: string) {
  if (challenge) c.header('WWW-Authenticate', challenge);
  if (status === 503) c.header('Retry-After', '1');
  c.header('Content-Type', 'application/json; charset=utf-8');
  c.header('Cache-Control', 'no-store');
  return c.body(body, status);
}

/**
 * The gateway hot path (nginx `auth_request`, Traefik ForwardAuth, Envoy ext_authz): one
 * local signature check and one Redis round trip. Answers only 200, 401 or 503, for any
 * method, because gateways forward the original method and turn other statuses into 500s.
 */
export function authenticateRoutes(deps: AppDeps) {
  const { accessTokens, sessions, logger } = deps;
  return new Hono<AppEnv>().all('/authenticate', async (c) => {
    const token = bearerToken(c.req.header('authorization'));
    if (!token) return reply(c, 401, MISSING, 'Bearer');
    const result = accessTokens.verify(token);
    if (!result.ok) return reply(c, 401, INVALID, 'Bearer error="invalid_token"');
    const { claims } = result;
    let state;
    try {
      state = await sessions.authenticate(claims);
    } catch (error) {
      // Fail closed: without revocation state the answer is never 200.
      logger.warn({ err: error }, 'authenticate: session store unavailable');
      return reply(c, 503, UNAVAILABLE);
    }
    if (state !== 'ok') return reply(c, 401, INVALID, 'Bearer error="invalid_token"');
    c.header('X-User-Id', claims.userId);
    c.header('X-User-Roles', claims.roles.join(','));
    c.header('X-Session-Id', claims.sessionId);
    c.header('X-Token-Expires', String(claims.expiresAt));
    c.header('Cache-Control', 'no-store');
    return c.json({ sub: claims.userId, sid: claims.sessionId, jti: claims.jti, roles: claims.roles, iat: claims.issuedAt, exp: claims.expiresAt });
  });
}
