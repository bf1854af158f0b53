/** Stable error codes of the HTTP contract, each with its status. */
export const errorStatus = {
  invalid_request: 400,
  weak_password: 400,
  invalid_credentials: 401,
  invalid_token: 401,
  invalid_grant: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  email_taken: 409,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  headers_too_large: 431,
  rate_limited: 429,
  unavailable: 503,
  server_error: 500,
} as const;

export type ErrorCode = keyof typeof errorStatus;

/** The `invalid_token` description of a request that carries no access token at all. */
export const TOKEN_REQUIRED = 'an access token is required';

/** `WWW-Authenticate` when no token was sent (RFC 6750 §3.1: no error code then). */
export const BEARER_CHALLENGE = 'Bearer';
/** `WWW-Authenticate` when a token was sent and refused (malformed, forged, expired, revoked alike). */
export const INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"';

/**
 * The one error type use cases throw. `code` is stable and maps to an HTTP status;
 * `message` is shown to clients below 500, and at 503 only when written for them (`shown`).
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retryAfter: number | undefined;
  /** `WWW-Authenticate` for `invalid_token` (RFC 6750 §3); defaults to `INVALID_TOKEN_CHALLENGE`. */
  readonly challenge: string | undefined;
  /** A 503 whose message tells the client what to do (no internals in it). */
  readonly shown: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfter?: number; challenge?: string; shown?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.retryAfter = options?.retryAfter;
    this.challenge = options?.challenge;
    this.shown = options?.shown ?? false;
  }

  get status(): (typeof errorStatus)[ErrorCode] {
    return errorStatus[this.code];
  }
}

/**
 * Load shed on purpose: the argon2 queue is full. Answered 503 + Retry-After with its message (it
 * tells a client, or a load test, that this is shedding, not an outage) and counted
 * (`jwt_password_hash_rejected_total`), not logged per request: a storm refuses hundreds a second.
 */
export class OverloadedError extends AppError {
  constructor(message: string) {
    super('unavailable', message, { retryAfter: 1, shown: true });
    this.name = 'OverloadedError';
  }
}

/**
 * A request that raced a change of the same account (a password change, an admin's): 503 with
 * its message and `Retry-After`, for the client to retry or log in again. Nothing is down, so it
 * is not reported as an outage.
 */
export class ChangedMeanwhileError extends AppError {
  constructor(message: string) {
    super('unavailable', message, { retryAfter: 1, shown: true });
    this.name = 'ChangedMeanwhileError';
  }
}

/** Thrown by stores when a backing service (Redis, PostgreSQL) cannot answer. */
export class UnavailableError extends AppError {
  readonly dependency: 'cache' | 'database';

  constructor(what: 'session store' | 'database', cause?: unknown) {
    super('unavailable', `${what} is unavailable, try again shortly`, { cause, retryAfter: 1 });
    this.name = 'UnavailableError';
    this.dependency = what === 'database' ? 'database' : 'cache';
  }
}
