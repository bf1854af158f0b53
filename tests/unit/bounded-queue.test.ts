import { describe, expect, it } from 'vitest';
import { auditRow } from '../../src/audit/audit-log.js';
import { createBoundedQueue } from '../../src/audit/bounded-queue.js';

describe('bounded queue', () => {
  it('drops the oldest when full and says how many', () => {
    const queue = createBoundedQueue<number>(3);
    expect([1, 2, 3, 4, 5].map((n) => queue.push(n))).toEqual([0, 0, 0, 1, 1]);
    expect(queue.take(10)).toEqual([3, 4, 5]);
    expect(queue.size).toBe(0);
  });

  it('puts a taken batch back in front, dropping its oldest when newer items filled the room', () => {
    const queue = createBoundedQueue<number>(4);
    for (const n of [1, 2, 3]) queue.push(n);
    const batch = queue.take(2);
    queue.push(4);
    queue.push(5);
    expect(queue.putBack(batch)).toEqual(1);
    expect(queue.take(10)).toEqual([2, 3, 4, 5]);
  });

  it('stays correct across many pushes and takes (compaction)', () => {
    const queue = createBoundedQueue<number>(10_000);
    let dropped = 0;
    for (let n = 0; n < 50_000; n += 1) dropped += queue.push(n);
    expect(dropped).toBe(40_000);
    expect(queue.take(3)).toEqual([40_000, 40_001, 40_002]);
    expect(queue.size).toBe(9_997);
  });
});

describe('audit row', () => {
  it('truncates the user agent, keeps only UUID ids and copies details', () => {
    const details = { reason: 'x' };
    const row = auditRow({ event: 'login_failed', userId: 'not-a-uuid', sessionId: '8b0f0c9e-1f3a-4c1d-9a51-3f1e2d4c5b6a', userAgent: 'a'.repeat(1000), ip: '10.0.0.1', details });
    details.reason = 'changed later';
    expect(row).toMatchObject({ event: 'login_failed', userId: null, sessionId: '8b0f0c9e-1f3a-4c1d-9a51-3f1e2d4c5b6a', ip: '10.0.0.1' });
    expect(row.details).toEqual({ reason: 'x', user_agent: 'a'.repeat(256) });
  });

  it('drops NUL characters from every string of the details, and keeps a literal \\u0000 as text', () => {
    const literal = 'curl/8 \\u0000';
    const row = auditRow({ event: 'login_failed', userAgent: literal, details: { reason: 'wrong_password', note: 'a\0b', nested: { list: ['c\0'] } } });
    expect(row.details).toEqual({ reason: 'wrong_password', note: 'ab', nested: { list: ['c'] }, user_agent: literal });
  });
});
