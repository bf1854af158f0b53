/** A FIFO holding at most `capacity` items; making room always drops the oldest. */
export interface BoundedQueue<T> {
  readonly size: number;
  /** Appends one item; returns how many of the oldest were dropped to make room (0 or 1). */
  push(item: T): number;
  /** Puts items taken earlier back at the front, oldest first; returns how many were dropped. */
  putBack(items: readonly T[]): number;
  /** Removes and returns up to `count` of the oldest items. */
  take(count: number): T[];
}

/** Array with a moving head: O(1) amortised push, drop and take, compacted as the head advances. */
export function createBoundedQueue<T>(capacity: number): BoundedQueue<T> {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`queue capacity must be a positive integer, got ${capacity}`);
  let items: T[] = [];
  let head = 0;
  const size = () => items.length - head;

  const compact = () => {
    if (head > 1024 && head * 2 > items.length) {
      items = items.slice(head);
      head = 0;
    }
  };
  const trim = () => {
    const over = size() - capacity;
    if (over <= 0) return 0;
    head += over;
    compact();
    return over;
  };

  return {
    get size() {
      return size();
    },
    push(item) {
      items.push(item);
      return trim();
    },
    putBack(earlier) {
      items = [...earlier, ...items.slice(head)];
      head = 0;
      return trim();
    },
    take(count) {
      const taken = items.slice(head, head + count);
      head += taken.length;
      compact();
      return taken;
    },
  };
}
