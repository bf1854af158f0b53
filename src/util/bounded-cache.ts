import { createInsertionList, type ListNode } from './insertion-list.js';

/**
 * Expired entries each `set` drops from the oldest end (`makeRoom`). Entries mostly expire in the
 * order they were set (verified tokens, session salts; less so recorded rate-limit locks, whose
 * lengths differ).
 */
const SWEPT_PER_SET = 2;

interface Entry<T> extends ListNode<Entry<T>> {
  key: string;
  value: T;
  validUntilMs: number;
}

/**
 * A bounded map whose entries are served only until their own deadline, and at most `maxAgeMs`
 * after they were set: when the cap is reached the entry set longest ago goes first. Used for
 * what an instance may remember but never decides alone (verified tokens, session salts, recorded
 * rate-limit locks): a miss just means asking the source.
 */
export function createBoundedCache<T>(maxEntries: number, maxAgeMs = Infinity) {
  const entries = new Map<string, Entry<T>>();
  const order = createInsertionList<Entry<T>>();
  const remove = (entry: Entry<T>) => {
    entries.delete(entry.key);
    order.remove(entry);
  };
  return {
    get(key: string, nowMs: number): T | undefined {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.validUntilMs > nowMs) return entry.value;
      remove(entry);
      return undefined;
    },
    set(key: string, value: T, validUntilMs: number, nowMs: number) {
      if (maxEntries <= 0) return;
      // A key set again becomes the newest, so what is refreshed stays longest.
      const known = entries.get(key);
      if (known) remove(known);
      order.makeRoom(maxEntries, SWEPT_PER_SET, (oldest) => oldest.validUntilMs <= nowMs, remove);
      const entry: Entry<T> = { key, value, validUntilMs: Math.min(validUntilMs, nowMs + maxAgeMs), prev: undefined, next: undefined };
      entries.set(key, entry);
      order.append(entry);
    },
    delete(key: string) {
      const entry = entries.get(key);
      if (entry) remove(entry);
    },
    get size() {
      return entries.size;
    },
  };
}

export type BoundedCache<T> = ReturnType<typeof createBoundedCache<T>>;
