import type { AppDeps } from '../../app-deps.js';
import type { AuthenticateOutcome } from '../../observability/metrics.js';
import type { AccessClaims } from '../../tokens/access-token.js';
import { bearerToken } from '../bearer.js';
import { BEARER_CHALLENGE, INVALID_TOKEN_CHALLENGE, TOKEN_REQUIRED, UnavailableError } from '../../errors.js';
import { createOutageLog } from '../outage-log.js';
import type { RequestRecorder } from '../request-context.js';
import { baselineLines, headLinesList, renderHeadLines, requestIdLine, type RequestId } from '../response-headers.js';

const MISSING = JSON.stringify({ error: 'invalid_token', error_description: TOKEN_REQUIRED });
const INVALID = JSON.stringify({ error: 'invalid_token', error_description: 'the access token is invalid, expired or revoked' });
const UNAVAILABLE = JSON.stringify({ error: 'unavailable', error_description: 'revocation state cannot be read, retry shortly' });

/** What `/authenticate` answers. */
export interface AuthenticateAnswer {
  status: 200 | 401 | 503;
  /**
   * Every header but `Content-Length`, as the lines of a response head (`Name: value\r\n`),
   * each checked as Node's `writeHead` checks them (`renderHeadLines`): written as they are
   * (write-answer.ts).
   */
  head: string;
  /** The body's length in bytes (a HEAD's answer carries its GET's): sent as one write, not chunked. */
  contentLength: string;
  /** Empty for HEAD. */
  body: string;
}

/** The request facts `/authenticate` looks at. */
export interface AuthenticateRequest {
  method: string;
  authorization: string | undefined;
  /** The client's `X-Request-Id` if well-formed, else a new one (`requestIdFrom`). */
  requestId: RequestId;
}

/** One answer rendered once (the identity of a verified token, each refusal): all but the baseline headers. */
interface Reply {
  status: AuthenticateAnswer['status'];
  /** Head lines but the baseline's. */
  lines: string;
  body: string;
  contentLength: string;
}

/** Every answer is JSON that no cache may keep. @throws {TypeError} for a header Node would refuse */
function reply(status: Reply['status'], body: string, headers: readonly string[]): Reply {
  const lines = renderHeadLines(['Content-Type', 'application/json; charset=utf-8', 'Cache-Control', 'no-store', ...headers]);
  return { status, lines, body, contentLength: String(Buffer.byteLength(body)) };
}

function renderIdentity(claims: AccessClaims): Reply {
  const { userId, sessionId, jti, roles, issuedAt, expiresAt } = claims;
  const body = JSON.stringify({ sub: userId, sid: sessionId, jti, roles, iat: issuedAt, exp: expiresAt });
  return reply(200, body, ['X-User-Id', userId, 'X-User-Roles', roles.join(','), 'X-Session-Id', sessionId, 'X-Token-Expires', String(expiresAt)]);
}

const CHALLENGE = reply(401, MISSING, ['WWW-Authenticate', BEARER_CHALLENGE]);
const INVALID_TOKEN = reply(401, INVALID, ['WWW-Authenticate', INVALID_TOKEN_CHALLENGE]);
/** Fail closed, retry shortly. */
const RETRY = reply(503, UNAVAILABLE, ['Retry-After', '1']);
/**
 * The 503 of a listener whose answer could not be written, by the request's id: with the headers
 * of every response, like every other answer.
 */
export function failedAnswer(instanceId: string): (requestId: RequestId) => AuthenticateAnswer {
  const lines = baselineLines(instanceId) + RETRY.lines;
  return (requestId) => ({ status: 503, head: requestIdLine(requestId) + lines, contentLength: RETRY.contentLength, body: UNAVAILABLE });
}

/** All of an answer's headers as one flat name/value list. */
export const answerHeaderList = (answer: AuthenticateAnswer) => [...headLinesList(answer.head), 'Content-Length', answer.contentLength];

type Decision = [Reply, AuthenticateOutcome];

/**
 * The gateway hot path (nginx `auth_request`, Traefik ForwardAuth, Envoy ext_authz): one local
 * signature check (cached per token) and at most one session-store round trip. Answers only 200, 401
 * or 503, whatever the method, because gateways forward the client's method and turn other
 * statuses into 500s. Fails closed: an error anywhere is a 503, never a 200.
 */
export function createAuthenticate(deps: AppDeps, record: RequestRecorder) {
  const { accessTokens, sessions, logger, instanceId, metrics } = deps;
  // Verified tokens come back from the token cache as the same claims object: render each once.
  const identities = new WeakMap<AccessClaims, Reply>();
  const baseline = baselineLines(instanceId);
  const outage = createOutageLog(logger, metrics);

  async function decide(authorization: string | undefined): Promise<Decision> {
    const token = bearerToken(authorization);
    if (!token) return [CHALLENGE, 'missing'];
    const result = accessTokens.verify(token);
    if (!result.ok) return [INVALID_TOKEN, result.reason];
    let state;
    try {
      state = await sessions.authenticate(result.claims);
    } catch (error) {
      if (error instanceof UnavailableError) outage(error, 'authenticate: session store unavailable');
      else logger.error({ err: error }, 'authenticate: unexpected error from the session store');
      return [RETRY, 'unavailable'];
    }
    if (state !== 'ok') return [INVALID_TOKEN, state];
    const { claims } = result;
    // Only cached claims come back: a token verified afresh gets no memo (nor the GC work of one).
    let identity = result.cached ? identities.get(claims) : undefined;
    if (!identity) {
      identity = renderIdentity(claims);
      if (result.cached) identities.set(claims, identity);
    }
    return [identity, 'ok'];
  }

  return async (request: AuthenticateRequest): Promise<AuthenticateAnswer> => {
    const started = performance.now();
    const { requestId } = request;
    let decision: Decision;
    try {
      decision = await decide(request.authorization);
    } catch (error) {
      logger.error({ err: error }, 'authenticate: unexpected error');
      decision = [RETRY, 'unavailable'];
    }
    const [{ status, lines, body, contentLength }, outcome] = decision;
    metrics.authenticate(outcome);
    record(requestId, request.method, '/authenticate', status, started);
    const head = requestIdLine(requestId) + baseline + lines;
    return { status, head, contentLength, body: request.method === 'HEAD' ? '' : body };
  };
}

export type Authenticate = ReturnType<typeof createAuthenticate>;
