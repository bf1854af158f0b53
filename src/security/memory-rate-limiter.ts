import { lockMs, retryAfterSeconds, type LimitKey, type RateLimiter } from './rate-limiter.js';

interface Counter {
  count: number;
  lockedUntil: number;
  /** The lock before the last hit set `lockedUntil` (a refund of that hit puts it back). */
  lockedBefore: number;
  expiresAt: number;
}

const SWEEP_EVERY_HITS = 1000;
/**
 * Most counters held: each distinct client address (or account) counted adds one for its
 * window, so without a cap a flood of distinct addresses (IPv6 networks) would fill memory.
 */
export const MAX_COUNTERS = 100_000;
/** Locked counters put behind the rest in one call before the oldest is taken, locked or not. */
const EVICTION_SCAN = 64;

/**
 * The embedded, single-process limiter with the semantics of the Redis one. Each method runs
 * without awaiting in between, so each is atomic on Node's one thread. Expired counters are
 * dropped lazily and swept every 1000 hits. At `maxCounters`, a new counter replaces the oldest
 * that holds no lock (`makeRoom`): a flood of new subjects forgets counts before locks.
 */
export function createMemoryRateLimiter({ now = Date.now, maxCounters = MAX_COUNTERS }: { now?: () => number; maxCounters?: number } = {}) {
  const counters = new Map<string, Counter>();
  let hitsSinceSweep = 0;
  const name = (key: LimitKey) => `${key.limit}:${key.subject}`;

  const live = (key: LimitKey, at: number) => {
    const counter = counters.get(name(key));
    if (counter && counter.expiresAt <= at) {
      counters.delete(name(key));
      return undefined;
    }
    return counter;
  };

  const sweep = (at: number) => {
    hitsSinceSweep = 0;
    for (const [id, counter] of counters) if (counter.expiresAt <= at) counters.delete(id);
  };

  /**
   * Room for one more counter: the oldest goes (Map order is creation order) unless it holds a
   * lock; a locked one is put behind the rest instead, at most `EVICTION_SCAN` of them per call
   * (bounded work per hit), so locks go last: only once nearly every counter holds one.
   */
  const makeRoom = (at: number) => {
    if (counters.size < maxCounters) return;
    for (let moved = Math.min(EVICTION_SCAN, counters.size); moved > 0; moved--) {
      const [id, counter] = counters.entries().next().value as [string, Counter];
      counters.delete(id);
      if (counter.lockedUntil <= at) return;
      counters.set(id, counter);
    }
    const [oldest] = counters.keys();
    if (oldest !== undefined) counters.delete(oldest);
  };

  return {
    async hit(keys) {
      const at = now();
      if ((hitsSinceSweep += 1) >= SWEEP_EVERY_HITS) sweep(at);
      let wait = 0;
      let limit = '';
      for (const key of keys) {
        const lockedFor = (live(key, at)?.lockedUntil ?? 0) - at;
        if (lockedFor > wait) [wait, limit] = [lockedFor, key.limit];
      }
      if (wait > 0) return { allowed: false, retryAfterSeconds: retryAfterSeconds(wait), limit };
      for (const key of keys) {
        const { policy } = key;
        let counter = live(key, at);
        if (!counter) {
          makeRoom(at);
          counters.set(name(key), (counter = { count: 0, lockedUntil: 0, lockedBefore: 0, expiresAt: at + policy.windowMs }));
        }
        counter.count += 1;
        if (counter.count < policy.max) continue;
        counter.lockedBefore = counter.lockedUntil;
        const lock = lockMs(policy, counter.count);
        if (lock === null) {
          counter.lockedUntil = counter.expiresAt;
        } else {
          counter.lockedUntil = at + lock;
          counter.expiresAt = counter.lockedUntil + policy.windowMs;
        }
      }
      return { allowed: true };
    },

    async refund(keys) {
      const at = now();
      for (const key of keys) {
        const counter = live(key, at);
        if (!counter || counter.count === 0) continue;
        counter.count -= 1;
        counter.lockedUntil = counter.count < key.policy.max ? 0 : counter.lockedBefore;
      }
    },

    async reset(key) {
      counters.delete(name(key));
    },
  } satisfies RateLimiter;
}
