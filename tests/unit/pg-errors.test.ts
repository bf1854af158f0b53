import { describe, expect, it } from 'vitest';
import { isConnectionError, isLostInFlight, isUniqueViolation } from '../../src/users/pg-errors.js';

/** An error with `code`, as the driver or the server gives it; `cause` as postgres.js or drizzle wraps one. */
const coded = (code: string, cause?: unknown) => Object.assign(new Error(code, cause === undefined ? {} : { cause }), { code });

describe('PostgreSQL errors, as the stores read them', () => {
  it('"cannot answer now" (503): network, TLS and driver codes, refusals at connection, and the SQLSTATE classes 08, 53, 57 and 58, also under a wrapper', () => {
    const tls = ['SSL_NOT_SUPPORTED', 'EPROTO', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_WRONG_VERSION_NUMBER', 'HOSTNAME_MISMATCH'];
    const unavailable = ['ECONNREFUSED', 'EMFILE', 'CONNECTION_DESTROYED', 'QUEUE_TIMEOUT', 'QUERY_TIMEOUT', 'CANCEL_UNANSWERED', '28P01', '3D000', '25006', '55P03', '08006', '53300', '53400', '57014', '57P05', '58030', ...tls];
    for (const code of unavailable) {
      expect(isConnectionError(coded(code)), code).toBe(true);
      expect(isConnectionError(new Error('Failed query', { cause: coded(code) })), code).toBe(true);
    }
    // The query's own fault, or no code of ours (a bug: 500).
    for (const code of ['23505', '22P02', '42P01', '40001', 'ENOENT', '0800', '080000', '54000']) expect(isConnectionError(coded(code)), code).toBe(false);
    expect(isUniqueViolation(new Error('Failed query', { cause: coded('23505') }))).toBe(true);
  });

  it('lost in flight (a write may have landed): a connection gone under it, a cancel unanswered; not a query never sent or cancelled by the server', () => {
    for (const error of [coded('ECONNRESET'), coded('57P01'), coded('QUERY_TIMEOUT', coded('CONNECTION_DESTROYED', coded('CANCEL_UNANSWERED')))]) {
      expect(isLostInFlight(error), error.message).toBe(true);
    }
    for (const error of [coded('QUEUE_TIMEOUT'), coded('QUERY_TIMEOUT', coded('57014')), coded('ECONNREFUSED'), coded('53300')]) {
      expect(isLostInFlight(error), error.message).toBe(false);
    }
  });
});
