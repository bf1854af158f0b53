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
const MAX_COUNTERS = 100_000;

/**
 * The embedded, single-process limiter with the semantics of the Redis one. Each method runs
 * without awaiting in between, so each is atomic on Node's one thread. Expired counters are
 * dropped lazily and swept every 1000 hits. At `maxCounters`, a new counter replaces the oldest
 * one without a lock, and only if every counter holds one the lock set longest ago: a flood of new
 * subjects forgets counts, never a lock while any count is left to forget.
 */
export function createMemoryRateLimiter({ now = Date.now, maxCounters = MAX_COUNTERS }: { now?: () => number; maxCounters?: number } = {}) {
  // Two maps, each in the order its counters entered it (the oldest first): a hit that locks a
  // counter puts it last in `locked` (a lock set again after one ended too), a refund that unlocks
  // it puts it back in `unlocked`. One whose lock ran out stays in `locked` until it is hit or
  // expires, as one of the oldest locks there: the first to go if every counter holds a lock.
  const unlocked = new Map<string, Counter>();
  const locked = new Map<string, Counter>();
  let hitsSinceSweep = 0;
  const name = (key: LimitKey) => `${key.limit}:${key.subject}`;
  const forget = (id: string) => unlocked.delete(id) || locked.delete(id);

  const live = (key: LimitKey, at: number) => {
    const id = name(key);
    const counter = unlocked.get(id) ?? locked.get(id);
    if (counter && counter.expiresAt <= at) {
      forget(id);
      return undefined;
    }
    return counter;
  };

  const sweep = (at: number) => {
    hitsSinceSweep = 0;
    for (const counters of [unlocked, locked]) for (const [id, counter] of counters) if (counter.expiresAt <= at) counters.delete(id);
  };

  /** The oldest counter in `counters` that is not one of `kept`. */
  const oldestBut = (counters: Map<string, Counter>, kept: readonly string[]) => {
    for (const id of counters.keys()) if (!kept.includes(id)) return id;
    return undefined;
  };

  /** Room for `count` more counters, never made from those of `kept`: the oldest without a lock go, else the oldest locks. */
  const makeRoom = (count: number, kept: readonly string[]) => {
    while (unlocked.size + locked.size + count > maxCounters) {
      const oldest = oldestBut(unlocked, kept) ?? oldestBut(locked, kept);
      if (oldest === undefined) return;
      forget(oldest);
    }
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
      // Room first for every key this hit counts anew, taken from none of its keys: no key of
      // the hit evicts another (a new one, or the live count of one).
      makeRoom(keys.filter((key) => !live(key, at)).length, keys.map(name));
      for (const key of keys) {
        const { policy } = key;
        let counter = live(key, at);
        if (!counter) unlocked.set(name(key), (counter = { count: 0, lockedUntil: 0, lockedBefore: 0, expiresAt: at + policy.windowMs }));
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
        forget(name(key));
        locked.set(name(key), counter);
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
        if (counter.lockedUntil === 0 && locked.delete(name(key))) unlocked.set(name(key), counter);
      }
    },

    async reset(key) {
      forget(name(key));
    },
  } satisfies RateLimiter;
}
