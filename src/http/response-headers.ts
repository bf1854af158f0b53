import { randomUUID } from 'node:crypto';

const SAFE_REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Honours a well-formed `X-Request-Id`, otherwise makes one. */
export const requestIdFrom = (given: string | undefined) => (given && SAFE_REQUEST_ID.test(given) ? given : randomUUID());

/** Headers on every response: request correlation, which replica answered, baseline hardening. */
export function baseHeaders(requestId: string, instanceId: string): Record<string, string> {
  return {
    'X-Request-Id': requestId,
    'X-Instance-Id': instanceId,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
  };
}
