import { describe, expect, it } from 'vitest';
import { createDoorkeeper } from '../../src/util/doorkeeper.js';

describe('doorkeeper', () => {
  it('says "not seen" the first time and "seen" the second', () => {
    const doorkeeper = createDoorkeeper(1 << 17);
    const keys = Array.from({ length: 1000 }, (_, i) => `key-${i}-${'x'.repeat(i % 7)}`);
    const first = keys.map((key) => doorkeeper.seen(key));
    // A few first sightings may collide with earlier keys' bits (1,000 keys in 131,072 bits).
    expect(first.filter(Boolean).length).toBeLessThan(20);
    expect(keys.every((key) => doorkeeper.seen(key))).toBe(true);
  });

  it('forgets everything once `capacity` keys were added, so its bits never fill up', () => {
    const doorkeeper = createDoorkeeper(1024, 4);
    expect(['a', 'b', 'c'].map((key) => doorkeeper.seen(key))).toEqual([false, false, false]);
    expect(doorkeeper.seen('a')).toBe(true);
    expect(doorkeeper.seen('d')).toBe(false); // the fourth addition clears every bit, its own too
    expect(['a', 'b', 'd', 'a'].map((key) => doorkeeper.seen(key))).toEqual([false, false, false, true]);
  });

  it('refuses a size that is not a power of two', () => {
    expect(() => createDoorkeeper(1000)).toThrow(RangeError);
  });
});
