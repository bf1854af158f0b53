import { createFifoQueue } from './fifo-queue.js';

/**
 * Expired entries each `set` drops from the oldest end. Entries mostly expire in the order they
 * were set (verified tokens, session salts; less so recorded rate-limit locks, whose lengths
 * differ), so a cache holds about what is still valid, not its cap.
 */
const SWEPT_PER_SET = 2;
/** Entries deleted or set again leave their place in the queue; past this many, the queue is rebuilt. */
const STALE_ALLOWED = 1024;

interface Entry<T> {
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
  // Every entry in the order set; one deleted or set again stays behind, stale, until it is reached.
  const queue = createFifoQueue<Entry<T>>();
  const live = (entry: Entry<T>) => entries.get(entry.key) === entry;
  /** The oldest entry still held, past stale places. */
  const oldest = () => {
    let first = queue.peek();
    while (first !== undefined && !live(first)) {
      queue.shift();
      first = queue.peek();
    }
    return first;
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
      for (let swept = 0; swept < SWEPT_PER_SET; swept++) {
        const first = oldest();
        if (first === undefined || first.validUntilMs > nowMs) break;
        entries.delete(queue.shift()!.key);
      }
      if (!known && entries.size >= maxEntries) entries.delete(oldest()!.key);
      if (queue.length >= 2 * entries.size + STALE_ALLOWED) queue.retain(live);
      const entry = { key, value, validUntilMs: Math.min(validUntilMs, nowMs + maxAgeMs) };
      entries.set(key, entry);
      queue.push(entry);
    },
    delete(key: string) {
      entries.delete(key);
    },
    get size() {
      return entries.size;
    },
    /** Places in the queue, stale ones included (at most twice the entries, plus `STALE_ALLOWED`). */
    get queued() {
      return queue.length;
    },
  };
}

export type BoundedCache<T> = ReturnType<typeof createBoundedCache<T>>;
