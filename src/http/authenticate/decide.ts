import type { AppDeps } from '../../app-deps.js';
import type { AuthenticateOutcome } from '../../observability/metrics.js';
import { bearerToken } from '../bearer.js';
import type { RequestRecorder } from '../request-context.js';
import { baseHeaders, requestIdFrom } from '../response-headers.js';

const MISSING = JSON.stringify({ error: 'invalid_token', error_description: 'an access token is required' });
const INVALID = JSON.stringify({ error: 'invalid_token', error_description: 'the access token is invalid, expired or revoked' });
const UNAVAILABLE = JSON.stringify({ error: 'unavailable', error_description: 'revocation state cannot be read, retry shortly' });
const JSON_TYPE = 'application/json; charset=utf-8';

/** What `/authenticate` answers: status, plain header object (Node writes it as is), body. */
export interface AuthenticateAnswer {
  status: 200 | 401 | 503;
  headers: Record<string, string>;
  body: string;
}

/** The request facts `/authenticate` looks at. */
export interface AuthenticateRequest {
  method: string;
  authorization: string | undefined;
  requestId: string | undefined;
}

/**
 * The gateway hot path (nginx `auth_request`, Traefik ForwardAuth, Envoy ext_authz): one local
 * signature check (cached per token) and at most one session-store round trip. Answers only 200, 401
 * or 503, whatever the method, because gateways forward the client's method and turn other
 * statuses into 500s. Fails closed: an error anywhere is a 503, never a 200.
 */
export function createAuthenticate(deps: AppDeps, record: RequestRecorder) {
  const { accessTokens, sessions, logger, instanceId, metrics } = deps;

  async function decide(request: AuthenticateRequest, headers: Record<string, string>): Promise<[AuthenticateAnswer['status'], string, AuthenticateOutcome]> {
    const token = bearerToken(request.authorization);
    if (!token) {
      headers['WWW-Authenticate'] = 'Bearer';
      return [401, MISSING, 'missing'];
    }
    const result = accessTokens.verify(token);
    if (!result.ok) {
      headers['WWW-Authenticate'] = 'Bearer error="invalid_token"';
      return [401, INVALID, result.reason];
    }
    let state;
    try {
      state = await sessions.authenticate(result.claims);
    } catch (error) {
      logger.warn({ err: error }, 'authenticate: session store unavailable');
      headers['Retry-After'] = '1';
      return [503, UNAVAILABLE, 'unavailable'];
    }
    if (state !== 'ok') {
      headers['WWW-Authenticate'] = 'Bearer error="invalid_token"';
      return [401, INVALID, state];
    }
    const { claims } = result;
    headers['X-User-Id'] = claims.userId;
    headers['X-User-Roles'] = claims.roles.join(',');
    headers['X-Session-Id'] = claims.sessionId;
    headers['X-Token-Expires'] = String(claims.expiresAt);
    const body = JSON.stringify({ sub: claims.userId, sid: claims.sessionId, jti: claims.jti, roles: claims.roles, iat: claims.issuedAt, exp: claims.expiresAt });
    return [200, body, 'ok'];
  }

  return async (request: AuthenticateRequest): Promise<AuthenticateAnswer> => {
    const started = performance.now();
    const requestId = requestIdFrom(request.requestId);
    const headers = baseHeaders(requestId, instanceId);
    headers['Content-Type'] = JSON_TYPE;
    headers['Cache-Control'] = 'no-store';
    let status: AuthenticateAnswer['status'];
    let body: string;
    let outcome: AuthenticateOutcome;
    try {
      [status, body, outcome] = await decide(request, headers);
    } catch (error) {
      logger.error({ err: error }, 'authenticate: unexpected error');
      [status, body, outcome] = [503, UNAVAILABLE, 'unavailable'];
      headers['Retry-After'] = '1';
    }
    metrics.authenticate(outcome);
    record(requestId, request.method, '/authenticate', status, started);
    return { status, headers, body: request.method === 'HEAD' ? '' : body };
  };
}

export type Authenticate = ReturnType<typeof createAuthenticate>;
