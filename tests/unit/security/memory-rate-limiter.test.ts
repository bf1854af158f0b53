import { expect, test } from 'vitest';
import { createMemoryRateLimiter } from '../../../src/security/memory-rate-limiter.js';
import type { LimitKey, RateLimiter } from '../../../src/security/rate-limiter.js';
import { limitKey } from '../../helpers/rate-limiter-contract.js';

const allowed = async (limiter: RateLimiter, key: LimitKey) => (await limiter.hit([key])).allowed;

test('a flood of new subjects past maxCounters forgets the oldest counts, never a lock', async () => {
  const limiter = createMemoryRateLimiter({ maxCounters: 10 });
  const locked = limitKey({ max: 2, windowMs: 60_000 });
  expect([await allowed(limiter, locked), await allowed(limiter, locked), await allowed(limiter, locked)]).toEqual([true, true, false]);
  const counted = limitKey({ max: 3, windowMs: 60_000 });
  expect(await allowed(limiter, counted)).toBe(true);
  for (let i = 0; i < 50; i++) expect(await allowed(limiter, limitKey({ max: 3, windowMs: 60_000 }))).toBe(true);
  expect(await allowed(limiter, locked)).toBe(false);
  // `counted`'s first hit was forgotten: three more are let in (remembered, the third would be refused).
  expect([await allowed(limiter, counted), await allowed(limiter, counted), await allowed(limiter, counted)]).toEqual([true, true, true]);
});

test('a flood past maxCounters keeps every lock while any counter without one is left', async () => {
  const limiter = createMemoryRateLimiter({ maxCounters: 200 });
  const locks = Array.from({ length: 100 }, () => limitKey({ max: 1, windowMs: 60_000 }));
  for (const key of locks) expect([await allowed(limiter, key), await allowed(limiter, key)]).toEqual([true, false]);
  for (let i = 0; i < 1_000; i++) expect(await allowed(limiter, limitKey({ max: 3, windowMs: 60_000 }))).toBe(true);
  for (const key of locks) expect(await allowed(limiter, key)).toBe(false);
});

test('a counter a refund unlocks is forgotten like any other without a lock', async () => {
  const limiter = createMemoryRateLimiter({ maxCounters: 10 });
  const key = limitKey({ max: 2, windowMs: 60_000 });
  expect([await allowed(limiter, key), await allowed(limiter, key), await allowed(limiter, key)]).toEqual([true, true, false]);
  await limiter.refund([key]);
  for (let i = 0; i < 20; i++) await limiter.hit([limitKey({ max: 3, windowMs: 60_000 })]);
  // Forgotten, not kept among the locks: a fresh count lets two in (remembered at 1, only one).
  expect([await allowed(limiter, key), await allowed(limiter, key), await allowed(limiter, key)]).toEqual([true, true, false]);
});

test('with every counter locked, a new subject replaces the oldest', async () => {
  const limiter = createMemoryRateLimiter({ maxCounters: 3 });
  const keys = Array.from({ length: 3 }, () => limitKey({ max: 1, windowMs: 60_000 }));
  for (const key of keys) expect([await allowed(limiter, key), await allowed(limiter, key)]).toEqual([true, false]);
  expect(await allowed(limiter, limitKey({ max: 1, windowMs: 60_000 }))).toBe(true);
  expect(await allowed(limiter, keys[0]!)).toBe(true);
  expect(await allowed(limiter, keys[2]!)).toBe(false);
});
