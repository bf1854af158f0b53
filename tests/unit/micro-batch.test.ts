import { setImmediate as nextRound } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { afterIoRound } from '../../src/util/io-round.js';
import { microBatch } from '../../src/util/micro-batch.js';

/** A batched doubler that records every batch it was given. */
function recordingDoubler(options: Parameters<typeof microBatch<number, number>>[1]) {
  const batches: number[][] = [];
  const double = microBatch(async (items: number[]) => {
    batches.push(items);
    return items.map((item) => item * 2);
  }, options);
  return { batches, double };
}

describe('microBatch', () => {
  test('calls of one event-loop round share one batch; each gets its own answer, in order', async () => {
    const { batches, double } = recordingDoubler({ maxBatch: 100 });
    expect(await Promise.all([1, 2, 3, 4].map(double))).toEqual([2, 4, 6, 8]);
    expect(batches).toEqual([[1, 2, 3, 4]]);
  });

  test('calls of later rounds go in later batches', async () => {
    const { batches, double } = recordingDoubler({ maxBatch: 100 });
    const first = double(1);
    await nextRound();
    const second = double(2);
    expect([await first, await second]).toEqual([2, 4]);
    expect(batches).toEqual([[1], [2]]);
  });

  test('a full batch leaves at once, before the round ends; the rest follows', async () => {
    const { batches, double } = recordingDoubler({ maxBatch: 3 });
    const answers = [1, 2, 3, 4, 5, 6, 7].map(double);
    // Sent in this very round, as the calls came: the session store relies on it to overlap Redis's work with the round's.
    expect(batches).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(await Promise.all(answers)).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(batches).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
  });

  test('items of different groups never share a batch', async () => {
    const { batches, double } = recordingDoubler({ maxBatch: 100, groupOf: (item) => String(item % 2) });
    expect(await Promise.all([1, 2, 3, 4, 5].map(double))).toEqual([2, 4, 6, 8, 10]);
    expect(batches.sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual([[1, 3, 5], [2, 4]]);
  });

  test('a failed batch fails each of its calls, and only those', async () => {
    const odd = microBatch(
      async (items: number[]) => {
        if (items.some((item) => item % 2 === 1)) throw new Error('odd batch');
        return items;
      },
      { maxBatch: 100, groupOf: (item) => String(item % 2) },
    );
    const results = await Promise.allSettled([odd(1), odd(2), odd(3)]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'fulfilled', 'rejected']);
  });

  test('a run that answers with another count fails its calls instead of answering undefined', async () => {
    const short = microBatch(async (items: number[]) => items.slice(1), { maxBatch: 100 });
    const results = await Promise.allSettled([short(1), short(2)]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toContain('a batch of 2 was answered with 1');
  });

  test('a run that throws synchronously fails its calls instead of escaping', async () => {
    const broken = microBatch((): Promise<number[]> => {
      throw new Error('sync failure');
    }, { maxBatch: 100 });
    await expect(broken(1)).rejects.toThrow('sync failure');
  });
});

describe('afterIoRound', () => {
  test('resolves after callbacks already queued for this round, all waiters at once', async () => {
    const order: string[] = [];
    setImmediate(() => order.push('queued before'));
    await Promise.all([afterIoRound().then(() => order.push('a')), afterIoRound().then(() => order.push('b'))]);
    expect(order).toEqual(['queued before', 'a', 'b']);
  });
});
