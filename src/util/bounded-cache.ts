/**
 * Expired entries dropped from the oldest end by each `set`. Entries mostly expire in the order
 * they were set, so the cache holds about what is still valid, not its cap, at a bounded cost per
 * call: each `set` adds at most one entry and may drop two.
 */
const SWEPT_PER_SET = 2;

/**
 * A bounded map whose entries are served only until their own deadline: when the cap is
 * reached the entry set longest ago goes first. Used for what an instance may remember but never
 * decides alone (verified tokens, session salts): a miss just means asking the source.
 */
export function createBoundedCache<T>(maxEntries: number) {
  const entries = new Map<string, { value: T; validUntilMs: number }>();
  const sweep = (nowMs: number) => {
    let budget = SWEPT_PER_SET;
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
      sweep(nowMs);
      if (!known && entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
      entries.set(key, { value, validUntilMs });
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
