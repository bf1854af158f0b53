import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { createPasswordHasher } from '../../src/passwords/hasher.js';
import { readProcStat } from '../../src/util/proc-stat.js';

/**
 * In a file of its own: other tests' threads start and end on their own schedule (a thread that
 * failed is torn down after its `exit` event), so counting threads beside them was flaky in CI.
 * Here the hasher's threads are told apart by their ids, and the checks wait for the kernel's view.
 */

/** Ids of this process's threads at `nice` 19 (Linux). */
const lowestPriorityThreads = () => {
  const tids = new Set<string>();
  for (const tid of readdirSync(`/proc/${process.pid}/task`)) {
    // Undefined for a thread that ended while being listed.
    if (Number(readProcStat(`/proc/${process.pid}/task/${tid}/stat`)?.(19)) === 19) tids.add(tid); // nice
  }
  return tids;
};

describe.runIf(existsSync('/proc/thread-self'))('argon2 threads', () => {
  it('run at the lowest CPU priority, one per slot, and stop on close', async () => {
    const before = lowestPriorityThreads();
    const own = createPasswordHasher({ concurrency: 3 });
    const hashes = await Promise.all(['a password', 'b password', 'c password'].map((password) => own.hash(password)));
    expect(await own.match(hashes[0] as string, 'a password')).toBe('normal');
    const added = () => [...lowestPriorityThreads()].filter((tid) => !before.has(tid));
    await vi.waitFor(() => expect(added()).toHaveLength(3), { timeout: 5_000 });
    const ours = added();
    await own.close();
    await vi.waitFor(() => expect(ours.filter((tid) => lowestPriorityThreads().has(tid))).toEqual([]), { timeout: 5_000 });
    await expect(own.hash('after close')).rejects.toThrow();
  });
});
