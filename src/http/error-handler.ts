import type { Context } from 'hono';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { AppError, ChangedMeanwhileError, errorStatus, INVALID_TOKEN_CHALLENGE, OverloadedError, type ErrorCode } from '../errors.js';
import { createOutageLog } from './outage-log.js';

/** Writes the contract's error body `{error, error_description}` (plus `Retry-After` when given). */
export function errorResponse(c: Context, code: ErrorCode, description: string, retryAfter?: number) {
  if (retryAfter !== undefined) c.header('Retry-After', String(retryAfter));
  return c.json({ error: code, error_description: description }, errorStatus[code]);
}

/**
 * The one error mapper: an `AppError` below 500 shows its message; anything at or above
 * 500 gets a generic body while the log keeps the cause. Never a stack trace on the wire.
 */
export function createErrorHandler(logger: Logger, metrics: Metrics) {
  const outage = createOutageLog(logger, metrics);
  return (error: Error, c: Context) => {
    if (error instanceof AppError && error.status < 500) {
      if (error.code === 'invalid_token') c.header('WWW-Authenticate', error.challenge ?? INVALID_TOKEN_CHALLENGE);
      return errorResponse(c, error.code, error.message, error.retryAfter);
    }
    if (error instanceof AppError && error.code === 'unavailable') {
      // Shed load is counted, not logged: under a login storm that would be a warning with a
      // stack per refused request. A race with a change of the account is the client's to retry.
      // Anything else unavailable is reported as an outage.
      if (error instanceof OverloadedError) metrics.passwordHashRejected();
      else if (!(error instanceof ChangedMeanwhileError)) outage(error, 'dependency unavailable', { path: c.req.path });
      return errorResponse(c, 'unavailable', error.shown ? error.message : 'the service is temporarily unavailable, retry shortly', error.retryAfter ?? 1);
    }
    // Hono's own HTTP errors (e.g. a malformed request it refused) are client errors.
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return errorResponse(c, status === 413 ? 'payload_too_large' : 'invalid_request', 'the request is malformed');
    }
    logger.error({ err: error, path: c.req.path }, 'unhandled error');
    return errorResponse(c, 'server_error', 'internal error');
  };
}
