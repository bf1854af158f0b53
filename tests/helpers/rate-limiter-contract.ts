import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test, type TestContext } from 'vitest';
import type { LimitKey, LimitPolicy, RateLimiter } from '../../src/security/rate-limiter.js';
import { DEADLINE_RETRIES } from './deadline-retries.js';

/**
 * The rate-limiter contract: every RateLimiter implementation (Redis, memory, …) must pass it.
 * A suite file calls `rateLimiterContract(name, open)`. Real time, short windows.
 */
export type OpenLimiter = () => Promise<{ limiter: RateLimiter; cleanup(): Promise<void> }>;

async function openFor(open: OpenLimiter, { onTestFinished }: TestContext) {
  const { limiter, cleanup } = await open();
  onTestFinished(cleanup);
  return limiter;
}

const policy = (overrides: Partial<LimitPolicy> = {}): LimitPolicy => ({ max: 3, windowMs: 10_000, backoffMs: 0, maxBackoffMs: 0, ...overrides });

/** A fresh key (unique subject) of limit `limit`, in group `group` so keys can be hit together. */
export const limitKey = (overrides: Partial<LimitPolicy> = {}, limit = 'test', group: string | undefined = 'contract'): LimitKey => ({
  limit,
  subject: randomUUID(),
  policy: policy(overrides),
  group,
});

/** How many of `count` sequential hits are allowed. */
async function allowedOf(limiter: RateLimiter, keys: LimitKey[], count: number) {
  let allowed = 0;
  for (let i = 0; i < count; i += 1) if ((await limiter.hit(keys)).allowed) allowed += 1;
  return allowed;
}

/** Polls until a hit is allowed again (that hit counts) and returns how long the lock lasted, in ms. */
async function lockDuration(limiter: RateLimiter, key: LimitKey) {
  const start = performance.now();
  while (!(await limiter.hit([key])).allowed) await sleep(10);
  return performance.now() - start;
}

export function rateLimiterContract(name: string, open: OpenLimiter) {
  describe.concurrent(`${name} rate limiter contract`, () => {
    test('allows max hits in a window, then refuses with the rest of the window as Retry-After', async (ctx) => {
      const limiter = await openFor(open, ctx);
      const key = limitKey({ max: 3, windowMs: 30_000 });
      ctx.expect(await allowedOf(limiter, [key], 3)).toBe(3);
      const refused = await limiter.hit([key]);
      ctx.expect(refused).toEqual({ allowed: false, retryAfterSeconds: ctx.expect.any(Number), limit: 'test' });
      if (refused.allowed) return;
      ctx.expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(29);
      ctx.expect(refused.retryAfterSeconds).toBeLessThanOrEqual(30);
    });

    test('a plain window starts afresh once it has passed', DEADLINE_RETRIES, async (ctx) => {
      const limiter = await openFor(open, ctx);
      const key = limitKey({ max: 2, windowMs: 300 });
      ctx.expect(await allowedOf(limiter, [key], 4)).toBe(2);
      await sleep(350);
      ctx.expect(await allowedOf(limiter, [key], 4)).toBe(2);
    });

    test('back-off: the first lock lasts backoff, each further hit doubles it, up to the cap; never permanent', DEADLINE_RETRIES, async (ctx) => {
      const limiter = await openFor(open, ctx);
      const key = limitKey({ max: 2, windowMs: 5_000, backoffMs: 150, maxBackoffMs: 600 });
      ctx.expect(await allowedOf(limiter, [key], 2)).toBe(2);
      const locks = [];
      for (let i = 0; i < 4; i += 1) locks.push(await lockDuration(limiter, key));
      const expected = [150, 300, 600, 600];
      locks.forEach((ms, i) => {
        ctx.expect(ms).toBeGreaterThanOrEqual((expected[i] ?? 0) - 25);
        // Wide enough for a stall of a busy machine; a lock that did not double, or did not stop at the cap, is still caught.
        ctx.expect(ms).toBeLessThan((expected[i] ?? 0) + 250);
      });
    });

    test('Retry-After is the lock rounded up to whole seconds', async (ctx) => {
      const limiter = await openFor(open, ctx);
      const key = limitKey({ max: 1, windowMs: 60_000, backoffMs: 10_000, maxBackoffMs: 60_000 });
      ctx.expect((await limiter.hit([key])).allowed).toBe(true);
      ctx.expect(await limiter.hit([key])).toEqual({ allowed: false, retryAfterSeconds: 10, limit: 'test' });
      const short = limitKey({ max: 1, backoffMs: 200, maxBackoffMs: 200 });
      await limiter.hit([short]);
      ctx.expect(await limiter.hit([short])).toEqual({ allowed: false, retryAfterSeconds: 1, limit: 'test' });
    });

    test('counters are forgotten a window after the last lock ends', DEADLINE_RETRIES, async (ctx) => {
      const limiter = await openFor(open, ctx);
      const key = limitKey({ max: 2, windowMs: 300, backoffMs: 100, maxBackoffMs: 1_000 });
      ctx.expect(await allowedOf(limiter, [key], 3)).toBe(2);
      await sleep(450);
      ctx.expect(await allowedOf(limiter, [key], 3)).toBe(2);
    });

    test('reset forgets counter, back-off and lock', async (ctx) => {
      const limiter = await openFor(open, ctx);
      const key = limitKey({ max: 2, backoffMs: 60_000, maxBackoffMs: 60_000 });
      ctx.expect(await allowedOf(limiter, [key], 3)).toBe(2);
      await limiter.reset(key);
      ctx.expect(await allowedOf(limiter, [key], 3)).toBe(2);
    });

    test('refund takes one hit back, and unlocks a key that falls back under max', async (ctx) => {
      const limiter = await openFor(open, ctx);
      const key = limitKey({ max: 2, backoffMs: 60_000, maxBackoffMs: 60_000 });
      ctx.expect(await allowedOf(limiter, [key], 2)).toBe(2);
      await limiter.refund([key]);
      ctx.expect(await allowedOf(limiter, [key], 3)).toBe(1);
      await limiter.refund([limitKey()]); // an unknown key: nothing happens
    });

    test('a refund past max undoes the lock its hit set, and keeps the count', DEADLINE_RETRIES, async (ctx) => {
      const limiter = await openFor(open, ctx);
      const key = limitKey({ max: 2, backoffMs: 200, maxBackoffMs: 60_000 });
      ctx.expect(await allowedOf(limiter, [key], 2)).toBe(2);
      // Locked 200 ms by the second hit; once that is over, a third hit locks it 400 ms.
      await sleep(250);
      ctx.expect((await limiter.hit([key])).allowed).toBe(true);
      ctx.expect((await limiter.hit([key])).allowed).toBe(false);
      // Taken back (a success, a 503): the lock before it had ended, so the key is free at once.
      await limiter.refund([key]);
      ctx.expect((await limiter.hit([key])).allowed).toBe(true);
      // The count was not taken back further: that hit locks again, doubled (400 ms).
      ctx.expect((await limiter.hit([key])).allowed).toBe(false);
    });

    test('keys are isolated by subject and by limit', async (ctx) => {
      const limiter = await openFor(open, ctx);
      const key = limitKey({ max: 1, backoffMs: 60_000, maxBackoffMs: 60_000 });
      ctx.expect(await allowedOf(limiter, [key], 2)).toBe(1);
      ctx.expect(await allowedOf(limiter, [limitKey({ max: 1 })], 2)).toBe(1);
      ctx.expect(await allowedOf(limiter, [{ ...key, limit: 'other' }], 2)).toBe(1);
    });

    test('a hit refused by one locked key counts on none of the others; the longest lock is reported', async (ctx) => {
      const limiter = await openFor(open, ctx);
      const locked = limitKey({ max: 1, backoffMs: 20_000, maxBackoffMs: 20_000 }, 'account');
      const other = limitKey({ max: 2, backoffMs: 5_000, maxBackoffMs: 5_000 }, 'ip');
      await limiter.hit([locked]);
      for (let i = 0; i < 5; i += 1) ctx.expect(await limiter.hit([locked, other])).toEqual({ allowed: false, retryAfterSeconds: 20, limit: 'account' });
      ctx.expect(await allowedOf(limiter, [other], 3)).toBe(2);
      ctx.expect(await limiter.hit([other, locked])).toEqual({ allowed: false, retryAfterSeconds: 20, limit: 'account' });
    });

    test('a hit on several keys counts on each of them', async (ctx) => {
      const limiter = await openFor(open, ctx);
      const [a, b] = [limitKey({ max: 3 }, 'a'), limitKey({ max: 5 }, 'b')];
      ctx.expect(await allowedOf(limiter, [a, b], 2)).toBe(2);
      ctx.expect(await allowedOf(limiter, [a], 2)).toBe(1);
      ctx.expect(await allowedOf(limiter, [b], 5)).toBe(3);
    });

    test('concurrent hits are atomic: 50 at once allow exactly max', async (ctx) => {
      const limiter = await openFor(open, ctx);
      const key = limitKey({ max: 7, backoffMs: 60_000, maxBackoffMs: 60_000 });
      const decisions = await Promise.all(Array.from({ length: 50 }, () => limiter.hit([key])));
      ctx.expect(decisions.filter((decision) => decision.allowed)).toHaveLength(7);
      const [a, b] = [limitKey({ max: 4 }, 'a'), limitKey({ max: 9 }, 'b')];
      const pairs = await Promise.all(Array.from({ length: 50 }, () => limiter.hit([a, b])));
      ctx.expect(pairs.filter((decision) => decision.allowed)).toHaveLength(4);
      ctx.expect(await allowedOf(limiter, [b], 9)).toBe(5);
    });
  });
}
