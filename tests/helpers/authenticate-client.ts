import { randomInt } from 'node:crypto';

/** One `/authenticate` call the way a gateway makes it; `authorization: undefined` sends no header. */
export async function authenticate(base: string, authorization: string | undefined, method = 'GET') {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await fetch(`${base}/authenticate`, { method, headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text };
}

let hop = randomInt(1 << 24);
/**
 * A fresh private address for `X-Forwarded-For` (the loopback peer is a trusted proxy), so
 * per-IP brute-force limits never mask what a suite probes.
 */
export function nextClientIp(): string {
  hop = (hop + 1) % (1 << 24);
  return `10.${hop >> 16}.${(hop >> 8) & 0xff}.${hop & 0xff}`;
}
