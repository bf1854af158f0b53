import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import type { AppDeps } from '../../app-deps.js';
import { bearerToken } from '../bearer.js';
import type { AuthenticateOutcome } from '../../observability/metrics.js';
import type { RequestRecorder } from '../request-context.js';
import { baseHeaders, requestIdFrom } from '../response-headers.js';

const MISSING = JSON.stringify({ error: 'invalid_token', error_description: 'an access token is required' });
const INVALID = JSON.stringify({ error: 'invalid_token', error_description: 'the access token is invalid, expired or revoked' });
const UNAVAILABLE = JSON.stringify({ error: 'unavailable', error_description: 'revocation state cannot be read, retry shortly' });
const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The gateway hot path (nginx `auth_request`, Traefik ForwardAuth, Envoy ext_authz): one
 * local signature check (cached per token) and one session-store round trip. Answers only
 * 200, 401 or 503, for any method, because gateways forward the original method and turn
 * other statuses into 500s. It bypasses the general middleware and builds its response
 * from plain header objects, which Node writes without constructing `Headers`.
 */
export function authenticateHandler(deps: AppDeps, record: RequestRecorder) {
  const { accessTokens, sessions, logger, instanceId, metrics } = deps;

  const handle = async (c: Context<{ Bindings: Partial<HttpBindings> }>) => {
    const started = performance.now();
    const incoming = c.env?.incoming;
    const header = (name: string) => {
      const value = incoming ? incoming.headers[name] : c.req.header(name);
      return typeof value === 'string' ? value : undefined;
    };
    const requestId = requestIdFrom(header('x-request-id'));
    const headers = baseHeaders(requestId, instanceId);
    headers['Content-Type'] = JSON_TYPE;
    headers['Cache-Control'] = 'no-store';
    const respond = (status: 200 | 401 | 503, body: string, outcome: AuthenticateOutcome) => {
      metrics.authenticate(outcome);
      record(requestId, c.req.method, '/authenticate', status, started);
      return new Response(c.req.method === 'HEAD' ? null : body, { status, headers });
    };

    const token = bearerToken(header('authorization'));
    if (!token) {
      headers['WWW-Authenticate'] = 'Bearer';
      return respond(401, MISSING, 'missing');
    }
    const result = accessTokens.verify(token);
    let state;
    if (result.ok) {
      try {
        state = await sessions.authenticate(result.claims);
      } catch (error) {
        // Fail closed: without revocation state the answer is never 200.
        logger.warn({ err: error }, 'authenticate: session store unavailable');
        headers['Retry-After'] = '1';
        return respond(503, UNAVAILABLE, 'unavailable');
      }
    }
    if (!result.ok || state !== 'ok') {
      headers['WWW-Authenticate'] = 'Bearer error="invalid_token"';
      return respond(401, INVALID, result.ok ? (state ?? 'invalid') : result.reason);
    }
    const { claims } = result;
    headers['X-User-Id'] = claims.userId;
    headers['X-User-Roles'] = claims.roles.join(',');
    headers['X-Session-Id'] = claims.sessionId;
    headers['X-Token-Expires'] = String(claims.expiresAt);
    return respond(
      200,
      JSON.stringify({ sub: claims.userId, sid: claims.sessionId, jti: claims.jti, roles: claims.roles, iat: claims.issuedAt, exp: claims.expiresAt }),
      'ok',
    );
  };

  // Whatever happens, a gateway gets 200, 401 or 503 from here: an unexpected error fails closed.
  return async (c: Context<{ Bindings: Partial<HttpBindings> }>) => {
    try {
      return await handle(c);
    } catch (error) {
      logger.error({ err: error }, 'authenticate: unexpected error');
      metrics.authenticate('unavailable');
      return new Response(UNAVAILABLE, { status: 503, headers: { 'Content-Type': JSON_TYPE, 'Retry-After': '1', 'Cache-Control': 'no-store' } });
    }
  };
}
