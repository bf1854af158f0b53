/** Driver and socket codes and single SQLSTATEs meaning "the database cannot answer right now" (whole classes: `UNAVAILABLE_CLASSES`). */
const connectionCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNABORTED',
  'ENETDOWN',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
  // This process out of file descriptors: no new connection now.
  'EMFILE',
  'ENFILE',
  'CONNECT_TIMEOUT',
  'SSL_NOT_SUPPORTED', // the url asks for TLS (sslmode=require), the server has it off
  'EPROTO', // a TLS handshake the server broke off
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  // postgres.js's own bounds, off unless the url or PG* environment sets them (?queue_timeout=,
  // PGQUERY_TIMEOUT): no connection free in time, a query cancelled at its timeout, a cancel the
  // server did not answer.
  'QUEUE_TIMEOUT',
  'QUERY_TIMEOUT',
  'CANCEL_UNANSWERED',
  // Refused at connection: a wrong or rotated password (database.password_file), a role not allowed
  // in. Nothing the request did: 503 like an unreachable server, and at start-up the one line
  // that names it.
  '28000', // invalid_authorization_specification
  '28P01', // invalid_password
  '3D000', // invalid_catalog_name: the url's database does not exist (yet: an init job may create it)
  // The server answers but cannot do the work now: a read-only standby (a failover not yet seen
  // by DNS), a lock not granted in time (and the classes below). Retried (503, audit events
  // kept), not taken for a query the database refuses.
  '25006', // read_only_sql_transaction
  '55P03', // lock_not_available: a lock not granted within lock_timeout
]);

/**
 * Whole SQLSTATE classes meaning the same: 08 connection exception; 53 insufficient resources (a
 * full disk, memory exhausted, too many connections, a configured limit); 57 operator intervention
 * (a statement cancelled at its timeout, a shutdown, a server not accepting connections yet, an
 * idle session ended); 58 system error (I/O). None is about the query itself.
 */
const UNAVAILABLE_CLASSES = /^(?:08|53|57|58)[0-9A-Z]{3}$/;

/**
 * Node's TLS refusals of the server's certificate (expired, not yet valid, self-signed, of an
 * unknown issuer, for another host) and OpenSSL's handshake errors: a certificate rotated wrongly
 * on the server is an outage (503), as `/health/ready` reports it, not a bug in the request.
 */
const TLS_CODES = /^(?:ERR_SSL_|ERR_TLS_|UNABLE_TO_|CRL_)|CERT|^(?:HOSTNAME_MISMATCH|INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_EXCEEDED)$/;

/** Every `code` on an error, its `cause` chain and any `AggregateError` members. */
function errorCodes(error: unknown, seen = new Set<unknown>()): string[] {
  if (typeof error !== 'object' || error === null || seen.has(error)) return [];
  seen.add(error);
  const codes: string[] = [];
  if ('code' in error && typeof error.code === 'string') codes.push(error.code);
  if ('cause' in error) codes.push(...errorCodes(error.cause, seen));
  if (error instanceof AggregateError) {
    for (const inner of error.errors) codes.push(...errorCodes(inner, seen));
  }
  return codes;
}

/** A unique constraint rejected the write (SQLSTATE 23505), from postgres.js or PGlite. */
export function isUniqueViolation(error: unknown): boolean {
  return errorCodes(error).includes('23505');
}

/**
 * The connection went while a query may have been on it (reset, closed, the server terminating
 * its session): a write may have committed before, with no answer to say so.
 */
const lostInFlightCodes = new Set(['ECONNRESET', 'EPIPE', 'CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CANCEL_UNANSWERED', '57P01', '57P02']);

/** Whether a failed query may have been carried out all the same (see `lostInFlightCodes`). */
export function isLostInFlight(error: unknown): boolean {
  return errorCodes(error).some((code) => lostInFlightCodes.has(code));
}

/** The failure is about reaching the database (network, timeout, shutdown, credentials), not the query. */
export function isConnectionError(error: unknown): boolean {
  return errorCodes(error).some((code) => connectionCodes.has(code) || UNAVAILABLE_CLASSES.test(code) || TLS_CODES.test(code));
}
