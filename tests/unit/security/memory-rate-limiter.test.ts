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

test('with every counter locked, the lock set longest ago goes first, not one set again since', async () => {
  let at = 0;
  const limiter = createMemoryRateLimiter({ now: () => at, maxCounters: 2 });
  const doubling = limitKey({ max: 1, windowMs: 60_000, backoffMs: 1_000, maxBackoffMs: 60_000 });
  const brief = limitKey({ max: 1, windowMs: 60_000, backoffMs: 100, maxBackoffMs: 100 });
  expect(await allowed(limiter, doubling)).toBe(true); // locked until 1 s
  at = 10;
  expect(await allowed(limiter, brief)).toBe(true); // locked until 110 ms
  at = 2_000;
  expect(await allowed(limiter, doubling)).toBe(true); // its lock had ended: locked again, 2 s
  expect(await allowed(limiter, limitKey({ max: 1, windowMs: 60_000 }))).toBe(true);
  // `brief` (its lock long over) made room, not `doubling`, locked until 4 s.
  expect(await allowed(limiter, doubling)).toBe(false);
});

test('keys counted together never evict each other', async () => {
  const limiter = createMemoryRateLimiter({ maxCounters: 2 });
  for (const key of [limitKey({ max: 1, windowMs: 60_000 }), limitKey({ max: 1, windowMs: 60_000 })]) await limiter.hit([key]);
  const ip = limitKey({ max: 2, windowMs: 60_000 });
  const account = limitKey({ max: 5, windowMs: 60_000 });
  // Both new, with only locks to make room from: the second must not evict the first.
  expect((await limiter.hit([ip, account])).allowed).toBe(true);
  expect((await limiter.hit([ip, account])).allowed).toBe(true);
  expect(await limiter.hit([ip, account])).toMatchObject({ allowed: false, limit: ip.limit });
});

test('room for a new key of a hit is never made from another key of the same hit', async () => {
  const limiter = createMemoryRateLimiter({ maxCounters: 2 });
  const account = limitKey({ max: 3, windowMs: 60_000 });
  await limiter.hit([account]);
  await limiter.hit([account]);
  await limiter.hit([limitKey({ max: 5, windowMs: 60_000 })]);
  // Full, and the account's counter is the oldest: the new IP's room comes from the other one.
  expect((await limiter.hit([account, limitKey({ max: 5, windowMs: 60_000 })])).allowed).toBe(true);
  expect(await limiter.hit([account])).toMatchObject({ allowed: false, limit: account.limit });
});
