import { describe, expect, it } from 'vitest';
import { createBoundedCache } from '../../src/util/bounded-cache.js';

describe('bounded cache', () => {
  it('serves an entry only before its deadline, then forgets it', () => {
    const cache = createBoundedCache<string>(10);
    cache.set('a', 'salt', 1_000);
    expect(cache.get('a', 999)).toBe('salt');
    expect(cache.get('a', 1_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('never holds more than its cap: the entry set longest ago goes first, updating one evicts nothing and keeps it longest', () => {
    const cache = createBoundedCache<number>(3);
    for (const [i, key] of ['a', 'b', 'c'].entries()) cache.set(key, i, 10_000);
    cache.set('b', 20, 10_000);
    expect(cache.size).toBe(3);
    cache.set('d', 3, 10_000);
    expect(cache.size).toBe(3);
    expect(cache.get('a', 0)).toBeUndefined();
    expect([cache.get('b', 0), cache.get('c', 0), cache.get('d', 0)]).toEqual([20, 2, 3]);
    cache.set('e', 4, 10_000);
    expect(cache.get('c', 0)).toBeUndefined();
    expect(cache.get('b', 0)).toBe(20);
    cache.delete('c');
    expect(cache.get('c', 0)).toBeUndefined();
  });

  it('remembers nothing with a cap of 0', () => {
    const cache = createBoundedCache<number>(0);
    cache.set('a', 1, 10_000);
    expect(cache.get('a', 0)).toBeUndefined();
  });
});
