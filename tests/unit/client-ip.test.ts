import type { Context } from 'hono';
import { describe, expect, it } from 'vitest';
import { createClientIp } from '../../src/http/client-ip.js';

/** The two things createClientIp reads from a request: the TCP peer and X-Forwarded-For. */
const request = (peer: string, forwardedFor?: string) =>
  ({
    env: { incoming: { socket: { remoteAddress: peer, remotePort: 40000, remoteFamily: peer.includes(':') ? 'IPv6' : 'IPv4' } } },
    req: { header: (name: string) => (name === 'x-forwarded-for' ? forwardedFor : undefined) },
  }) as unknown as Context;

describe('client address', () => {
  const clientIp = createClientIp(['127.0.0.1', '10.0.0.0/8']);

  it('believes X-Forwarded-For only from a trusted proxy, taking the right-most untrusted hop', () => {
    expect(clientIp(request('203.0.113.9', '198.51.100.1'))).toBe('203.0.113.9');
    expect(clientIp(request('127.0.0.1', '198.51.100.1, 203.0.113.7, 10.1.2.3'))).toBe('203.0.113.7');
    expect(clientIp(request('::ffff:10.9.9.9', '198.51.100.1'))).toBe('198.51.100.1');
    expect(clientIp(request('127.0.0.1', 'not-an-ip'))).toBe('127.0.0.1');
    expect(clientIp(request('127.0.0.1'))).toBe('127.0.0.1');
  });
});
