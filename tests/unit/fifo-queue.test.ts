import { describe, expect, it } from 'vitest';
import { createFifoQueue } from '../../src/util/fifo-queue.js';

describe('FIFO queue', () => {
  it('gives items back in the order pushed, through many compactions of its array', () => {
    const queue = createFifoQueue<{ n: number }>();
    expect([queue.peek(), queue.shift(), queue.length]).toEqual([undefined, undefined, 0]);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 300; i++) queue.push({ n: next++ });
      for (let i = 0; i < 250; i++) {
        expect(queue.peek()).toEqual({ n: expected });
        expect(queue.shift()).toEqual({ n: expected++ });
      }
    }
    expect(queue.length).toBe(next - expected);
  });

  it('retain keeps the accepted items in order; clear empties it', () => {
    const queue = createFifoQueue<{ n: number }>();
    for (let n = 0; n < 10; n++) queue.push({ n });
    queue.shift();
    queue.retain((item) => item.n % 3 === 0);
    expect([queue.length, queue.shift(), queue.shift(), queue.shift(), queue.shift()]).toEqual([3, { n: 3 }, { n: 6 }, { n: 9 }, undefined]);
    queue.push({ n: 1 });
    queue.clear();
    expect([queue.length, queue.peek()]).toEqual([0, undefined]);
  });
});
