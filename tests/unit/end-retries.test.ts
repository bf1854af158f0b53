import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEndRetries } from '../../src/auth/end-retries.js';

/**
 * A session store whose `endAll` fails while `down` says so; the times (ms from the start) and
 * users of its calls, and the log lines.
 */
function flakyStore(down: (call: number) => boolean) {
  const calls: { atMs: number; userId: string }[] = [];
  const started = Date.now();
  const sessions = {
    endAll: async (userId: string) => {
      calls.push({ atMs: Date.now() - started, userId });
      if (down(calls.length)) throw new Error('redis down');
      return 1;
    },
  };
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  return { retries: createEndRetries({ sessions, logger }), calls, log: () => lines.join('') };
}

describe('endRetries: ends of every session an outage refused, tried again in the background', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('after 1 s, doubling, until one succeeds, which it logs', async () => {
    vi.useFakeTimers();
    const { retries, calls, log } = flakyStore((call) => call <= 3);
    retries.schedule('user-1', 'admin change');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls.map((call) => call.atMs)).toEqual([1_000, 3_000, 7_000, 15_000]);
    expect(log()).toContain('admin change: every session ended on a retry');
  });

  it('at most every 30 s, and gives up after 5 minutes with an error', async () => {
    vi.useFakeTimers();
    const { retries, calls, log } = flakyStore(() => true);
    retries.schedule('user-1', 'admin change');
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(calls.map((call) => call.atMs)).toEqual([1_000, 3_000, 7_000, 15_000, 31_000, 61_000, 91_000, 121_000, 151_000, 181_000, 211_000, 241_000, 271_000]);
    expect(log()).toContain('still failed after 5 minutes of retries');
  });

  it('keeps one chain per user: a second failure restarts it, a success elsewhere (cancel) ends it', async () => {
    vi.useFakeTimers();
    const { retries, calls } = flakyStore(() => true);
    retries.schedule('user-1', 'admin change');
    await vi.advanceTimersByTimeAsync(3_500);
    retries.schedule('user-1', 'admin change');
    retries.schedule('user-2', 'password change');
    await vi.advanceTimersByTimeAsync(1_000);
    // user-1: 1 s and 3 s in the first chain, then the restarted one's first try only.
    expect(calls).toEqual([
      { atMs: 1_000, userId: 'user-1' },
      { atMs: 3_000, userId: 'user-1' },
      { atMs: 4_500, userId: 'user-1' },
      { atMs: 4_500, userId: 'user-2' },
    ]);
    retries.cancel('user-1');
    retries.cancel('user-2');
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(calls).toHaveLength(4);
  });

  it('at shutdown tries each pending end once more, now, and logs by user those that fail', async () => {
    const { retries, calls, log } = flakyStore((call) => call !== 2);
    retries.schedule('user-1', 'admin change');
    retries.schedule('user-2', 'password change');
    await retries.settle();
    expect(calls.map((call) => call.userId)).toEqual(['user-1', 'user-2']);
    expect(log()).toContain('"userId":"user-1"');
    expect(log()).toContain('admin change: ending every session failed, and this instance is stopping');
    expect(log()).not.toContain('"userId":"user-2"');
    // Nothing is left to retry, and an end that fails after the shutdown began is only logged.
    await retries.settle();
    retries.schedule('user-3', 'admin change');
    expect(calls).toHaveLength(2);
    expect(log()).toContain('"userId":"user-3"');
  });

  it('a try still in flight when its chain is restarted neither goes on nor ends the new chain', async () => {
    vi.useFakeTimers();
    const calls: number[] = [];
    const pending: ((error: Error) => void)[] = [];
    const started = Date.now();
    const sessions = {
      endAll: (_userId: string) =>
        new Promise<number>((_resolve, reject) => {
          calls.push(Date.now() - started);
          pending.push(reject);
        }),
    };
    const retries = createEndRetries({ sessions, logger: pino({ level: 'silent' }) });
    retries.schedule('user-1', 'admin change');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toEqual([1_000]);
    retries.schedule('user-1', 'admin change');
    pending.shift()?.(new Error('redis down'));
    await vi.advanceTimersByTimeAsync(1_000);
    // Only the new chain's first try, 1 s after it began; then its own second, 2 s later.
    expect(calls).toEqual([1_000, 2_000]);
    pending.shift()?.(new Error('redis down'));
    await vi.advanceTimersByTimeAsync(2_000);
    expect(calls).toEqual([1_000, 2_000, 4_000]);
    retries.cancel('user-1');
    pending.shift()?.(new Error('redis down'));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(3);
  });
});
