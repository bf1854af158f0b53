import { randomUUID } from 'node:crypto';

const SAFE_REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Honours a well-formed `X-Request-Id`, otherwise makes one. */
export const requestIdFrom = (given: string | undefined) => (given && SAFE_REQUEST_ID.test(given) ? given : randomUUID());

const HARDENING = ['X-Content-Type-Options', 'nosniff', 'X-Frame-Options', 'DENY', 'Referrer-Policy', 'no-referrer'] as const;

/**
 * Headers on every response — request correlation, which replica answered, baseline hardening —
 * followed by `more`, as one flat name/value list (the form Node's `writeHead` takes as is).
 */
export function baseHeaderList(requestId: string, instanceId: string, more: readonly string[] = []): string[] {
  return ['X-Request-Id', requestId, 'X-Instance-Id', instanceId, ...HARDENING, ...more];
}

/** `baseHeaderList` as an object. */
export function baseHeaders(requestId: string, instanceId: string): Record<string, string> {
  const list = baseHeaderList(requestId, instanceId);
  const headers: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) headers[list[i] as string] = list[i + 1] as string;
  return headers;
}
