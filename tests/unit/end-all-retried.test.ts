import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { endAllRetried } from '../../src/auth/late-writes.js';
import type { SessionStore } from '../../src/sessions/session-store.js';

/** A session store whose `endAll` fails `failures` times, then succeeds; the times it was called (ms from the start). */
function flakyEndAll(failures: number) {
  const calls: number[] = [];
  const started = Date.now();
  const sessions = {
    endAll: async () => {
      calls.push(Date.now() - started);
      if (calls.length <= failures) throw new Error('redis down');
      return 1;
    },
  } as unknown as SessionStore;
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  return { deps: { sessions, logger }, calls, lines };
}

describe('endAllRetried: a failed end of every session is tried again in the background', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('after 1 s, doubling, until one succeeds, which it logs', async () => {
    vi.useFakeTimers();
    const { deps, calls, lines } = flakyEndAll(3);
    endAllRetried(deps, 'user-1', 'admin change');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toEqual([1_000, 3_000, 7_000, 15_000]);
    expect(lines.join('')).toContain('admin change: every session ended on a retry');
  });

  it('at most every 30 s, and gives up after 5 minutes with an error', async () => {
    vi.useFakeTimers();
    const { deps, calls, lines } = flakyEndAll(Number.POSITIVE_INFINITY);
    endAllRetried(deps, 'user-1', 'admin change');
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(calls).toEqual([1_000, 3_000, 7_000, 15_000, 31_000, 61_000, 91_000, 121_000, 151_000, 181_000, 211_000, 241_000, 271_000]);
    expect(lines.join('')).toContain('still failed after 5 minutes of retries');
  });
});
