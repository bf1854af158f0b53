import type { AppDeps } from '../../app-deps.js';
import type { AuthenticateOutcome } from '../../observability/metrics.js';
import type { AccessClaims } from '../../tokens/access-token.js';
import { bearerToken } from '../bearer.js';
import { TOKEN_REQUIRED, UnavailableError } from '../../errors.js';
import { createOutageLog } from '../outage-log.js';
import type { RequestRecorder } from '../request-context.js';
import { baseHeaderList, requestIdFrom } from '../response-headers.js';

const MISSING = JSON.stringify({ error: 'invalid_token', error_description: TOKEN_REQUIRED });
const INVALID = JSON.stringify({ error: 'invalid_token', error_description: 'the access token is invalid, expired or revoked' });
export const UNAVAILABLE = JSON.stringify({ error: 'unavailable', error_description: 'revocation state cannot be read, retry shortly' });
/**
 * Every answer is JSON that no cache may keep, with its length: a `Content-Length` lets Node
 * send the answer as one write instead of chunked framing (fewer bytes and less work on both ends).
 */
const jsonNoStore = (body: string) => ['Content-Type', 'application/json; charset=utf-8', 'Cache-Control', 'no-store', 'Content-Length', String(Buffer.byteLength(body))];

/** What `/authenticate` answers: status, headers as one flat name/value list (Node writes it as is), body. */
export interface AuthenticateAnswer {
  status: 200 | 401 | 503;
  headers: string[];
  body: string;
}

/** The request facts `/authenticate` looks at. */
export interface AuthenticateRequest {
  method: string;
  authorization: string | undefined;
  requestId: string | undefined;
}

/** The identity a valid token's answer carries, rendered once per verified token. */
interface Identity {
  headers: string[];
  body: string;
}

function renderIdentity(claims: AccessClaims): Identity {
  const { userId, sessionId, jti, roles, issuedAt, expiresAt } = claims;
  const body = JSON.stringify({ sub: userId, sid: sessionId, jti, roles, iat: issuedAt, exp: expiresAt });
  return {
    headers: [...jsonNoStore(body), 'X-User-Id', userId, 'X-User-Roles', roles.join(','), 'X-Session-Id', sessionId, 'X-Token-Expires', String(expiresAt)],
    body,
  };
}

/** Status, the answer's own headers (after the baseline), body, outcome for the metrics. */
type Decision = [AuthenticateAnswer['status'], extra: readonly string[], body: string, AuthenticateOutcome];

const CHALLENGE = [...jsonNoStore(MISSING), 'WWW-Authenticate', 'Bearer'];
const INVALID_TOKEN = [...jsonNoStore(INVALID), 'WWW-Authenticate', 'Bearer error="invalid_token"'];
/** The 503's own headers (with `UNAVAILABLE` as its body): fail closed, retry shortly. */
export const RETRY = [...jsonNoStore(UNAVAILABLE), 'Retry-After', '1'];

/**
 * The gateway hot path (nginx `auth_request`, Traefik ForwardAuth, Envoy ext_authz): one local
 * signature check (cached per token) and at most one session-store round trip. Answers only 200, 401
 * or 503, whatever the method, because gateways forward the client's method and turn other
 * statuses into 500s. Fails closed: an error anywhere is a 503, never a 200.
 */
export function createAuthenticate(deps: AppDeps, record: RequestRecorder) {
  const { accessTokens, sessions, logger, instanceId, metrics } = deps;
  // Verified tokens come back from the token cache as the same claims object: render each once.
  const identities = new WeakMap<AccessClaims, Identity>();
  const outage = createOutageLog(logger, metrics);

  async function decide(authorization: string | undefined): Promise<Decision> {
    const token = bearerToken(authorization);
    if (!token) return [401, CHALLENGE, MISSING, 'missing'];
    const result = accessTokens.verify(token);
    if (!result.ok) return [401, INVALID_TOKEN, INVALID, result.reason];
    let state;
    try {
      state = await sessions.authenticate(result.claims);
    } catch (error) {
      if (error instanceof UnavailableError) outage(error, 'authenticate: session store unavailable');
      else logger.error({ err: error }, 'authenticate: unexpected error from the session store');
      return [503, RETRY, UNAVAILABLE, 'unavailable'];
    }
    if (state !== 'ok') return [401, INVALID_TOKEN, INVALID, state];
    const { claims } = result;
    // Only cached claims come back: a token verified afresh gets no memo (nor the GC work of one).
    let identity = result.cached ? identities.get(claims) : undefined;
    if (!identity) {
      identity = renderIdentity(claims);
      if (result.cached) identities.set(claims, identity);
    }
    return [200, identity.headers, identity.body, 'ok'];
  }

  return async (request: AuthenticateRequest): Promise<AuthenticateAnswer> => {
    const started = performance.now();
    const requestId = requestIdFrom(request.requestId);
    let decision: Decision;
    try {
      decision = await decide(request.authorization);
    } catch (error) {
      logger.error({ err: error }, 'authenticate: unexpected error');
      decision = [503, RETRY, UNAVAILABLE, 'unavailable'];
    }
    const [status, extra, body, outcome] = decision;
    const headers = baseHeaderList(requestId, instanceId, extra);
    metrics.authenticate(outcome);
    record(requestId, request.method, '/authenticate', status, started);
    return { status, headers, body: request.method === 'HEAD' ? '' : body };
  };
}

export type Authenticate = ReturnType<typeof createAuthenticate>;
