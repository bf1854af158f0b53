import { describe, expect, it } from 'vitest';
import { createBoundedCache } from '../../src/util/bounded-cache.js';

describe('bounded cache', () => {
  it('serves an entry only before its deadline, then forgets it', () => {
    const cache = createBoundedCache<string>(10);
    cache.set('a', 'salt', 1_000, 0);
    expect(cache.get('a', 999)).toBe('salt');
    expect(cache.get('a', 1_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('never holds more than its cap: the entry set longest ago goes first, updating one evicts nothing and keeps it longest', () => {
    const cache = createBoundedCache<number>(3);
    for (const [i, key] of ['a', 'b', 'c'].entries()) cache.set(key, i, 10_000, 0);
    cache.set('b', 20, 10_000, 0);
    expect(cache.size).toBe(3);
    cache.set('d', 3, 10_000, 0);
    expect(cache.size).toBe(3);
    expect(cache.get('a', 0)).toBeUndefined();
    expect([cache.get('b', 0), cache.get('c', 0), cache.get('d', 0)]).toEqual([20, 2, 3]);
    cache.set('e', 4, 10_000, 0);
    expect(cache.get('c', 0)).toBeUndefined();
    expect(cache.get('b', 0)).toBe(20);
    cache.delete('c');
    expect(cache.get('c', 0)).toBeUndefined();
  });

  it('remembers nothing with a cap of 0', () => {
    const cache = createBoundedCache<number>(0);
    cache.set('a', 1, 10_000, 0);
    expect(cache.get('a', 0)).toBeUndefined();
  });

  it('holds what is still valid, not its cap: a set drops up to two expired entries from the oldest end', () => {
    const cache = createBoundedCache<number>(1_000);
    // One entry a second, each valid for 60 s, for 10 minutes: never more than a minute's worth.
    for (let second = 0; second < 600; second++) cache.set(`k${second}`, second, (second + 60) * 1000, second * 1000);
    expect(cache.size).toBe(60);
    expect(cache.get('k539', 599_000)).toBeUndefined();
    expect(cache.get('k540', 599_000)).toBe(540);
    // A backlog (nothing set for a while) drains two a set, and never takes a valid entry.
    cache.set('late', 0, 2_000_000, 700_000);
    expect(cache.size).toBe(59);
    for (let i = 1; i < 30; i++) cache.set(`late${i}`, i, 2_000_000, 700_000);
    expect(cache.size).toBe(30);
    expect(cache.get('late', 800_000)).toBe(0);
  });

  it('a key set again and again stays one entry, the newest, and pushes out none', () => {
    const cache = createBoundedCache<number>(2);
    cache.set('idle', 0, 1_000_000, 0);
    for (let i = 0; i < 5_000; i++) cache.set('busy', i, 1_000_000, 0);
    expect([cache.size, cache.get('idle', 0), cache.get('busy', 0)]).toEqual([2, 0, 4_999]);
    // 'idle' is the oldest: the next new key pushes it out, not 'busy'.
    cache.set('new', 1, 1_000_000, 0);
    expect([cache.get('idle', 0), cache.get('busy', 0), cache.get('new', 0)]).toEqual([undefined, 4_999, 1]);
  });

  it('serves an entry at most maxAgeMs after it was set', () => {
    const cache = createBoundedCache<number>(10, 1_000);
    cache.set('a', 1, 10_000, 5_000);
    expect(cache.get('a', 5_999)).toBe(1);
    expect(cache.get('a', 6_000)).toBeUndefined();
  });

  it('stops at the first entry still valid (the sweep looks only at the oldest end)', () => {
    const cache = createBoundedCache<number>(10);
    cache.set('long', 1, 10_000, 0);
    cache.set('short', 2, 100, 0);
    cache.set('next', 3, 10_000, 200);
    expect(cache.size).toBe(3);
    expect(cache.get('short', 200)).toBeUndefined();
  });
});
