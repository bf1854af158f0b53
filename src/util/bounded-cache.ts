/**
 * How often a cache drops expired entries from its oldest end: at most once a second, up to two
 * for each `set` since the last time. Entries mostly expire in the order they were set, so a
 * cache holds about what is still valid, not its cap. Not on every `set`: a Map iterator steps
 * over the slots its deleted entries leave at the front until the table is rebuilt.
 */
const SWEEP_INTERVAL_MS = 1_000;
const SWEPT_PER_SET = 2;

/**
 * A bounded map whose entries are served only until their own deadline, and at most `maxAgeMs`
 * after they were set: when the cap is reached the entry set longest ago goes first. Used for
 * what an instance may remember but never decides alone (verified tokens, session salts): a miss
 * just means asking the source.
 */
export function createBoundedCache<T>(maxEntries: number, maxAgeMs = Infinity) {
  const entries = new Map<string, { value: T; validUntilMs: number }>();
  let setsSinceSweep = 0;
  let nextSweepMs = -Infinity;
  const sweep = (nowMs: number, budget: number) => {
    for (const [key, entry] of entries) {
      if (entry.validUntilMs > nowMs || budget-- === 0) return;
      entries.delete(key);
    }
  };
  return {
    get(key: string, nowMs: number): T | undefined {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.validUntilMs > nowMs) return entry.value;
      entries.delete(key);
      return undefined;
    },
    set(key: string, value: T, validUntilMs: number, nowMs: number) {
      if (maxEntries <= 0) return;
      // A key set again becomes the newest, so what is refreshed stays longest.
      const known = entries.delete(key);
      setsSinceSweep += 1;
      if (nowMs >= nextSweepMs) {
        sweep(nowMs, SWEPT_PER_SET * setsSinceSweep);
        setsSinceSweep = 0;
        nextSweepMs = nowMs + SWEEP_INTERVAL_MS;
      }
      if (!known && entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
      entries.set(key, { value, validUntilMs: Math.min(validUntilMs, nowMs + maxAgeMs) });
    },
    delete(key: string) {
      entries.delete(key);
    },
    get size() {
      return entries.size;
    },
  };
}

export type BoundedCache<T> = ReturnType<typeof createBoundedCache<T>>;
