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

  it('reads entries a balancer wrote with a port (before: all such clients counted as the proxy)', () => {
    expect(clientIp(request('127.0.0.1', '198.51.100.1:51234'))).toBe('198.51.100.1');
    expect(clientIp(request('127.0.0.1', '[2001:db8::7]:443, 10.1.2.3:80'))).toBe('2001:db8::7');
    expect(clientIp(request('127.0.0.1', '2001:db8::7'))).toBe('2001:db8::7');
    expect(clientIp(request('127.0.0.1', '10.0.0.5:8080'))).toBe('10.0.0.5');
    expect(clientIp(request('127.0.0.1', '[not-an-ip]:1'))).toBe('127.0.0.1');
  });

  it('gives the same verdicts once they are remembered, also after more addresses than it remembers', () => {
    const fresh = createClientIp(['127.0.0.1', '10.0.0.0/8']);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 3000; i++) {
        const hop = `198.51.${i >> 8}.${i & 255}`;
        expect(fresh(request('127.0.0.1', `${hop}, 10.0.0.${i & 255}`))).toBe(hop);
      }
      expect(fresh(request('10.200.0.1', '198.51.100.1'))).toBe('198.51.100.1');
      expect(fresh(request('203.0.113.9', '198.51.100.1'))).toBe('203.0.113.9');
    }
  });
});
