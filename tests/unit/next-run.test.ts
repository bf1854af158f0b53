import { describe, expect, test } from 'vitest';
import { nextRun } from '../../src/util/next-run.js';

/** A run that settles when told to, recording that it started. */
function controlledRuns() {
  const started: string[] = [];
  const settle: Record<string, (error?: Error) => void> = {};
  const run = (name: string) => () => {
    started.push(name);
    return new Promise<void>((resolve, reject) => {
      settle[name] = (error) => (error ? reject(error) : resolve());
    });
  };
  return { started, settle, run };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('nextRun', () => {
  test('a call while none runs starts one; calls while it runs share the next, started once it settles', async () => {
    const { started, settle, run } = controlledRuns();
    const next = nextRun<object>();
    const key = {};
    const first = next(key, run('a'));
    const second = next(key, run('b'));
    const third = next(key, run('c'));
    expect(started).toEqual(['a']);
    expect(third).toBe(second);
    settle.a?.();
    await first;
    await tick();
    expect(started).toEqual(['a', 'b']);
    // A call now cannot be answered by b (begun before it): it waits for the run after.
    const fourth = next(key, run('d'));
    expect(fourth).not.toBe(second);
    settle.b?.();
    await second;
    await tick();
    expect(started).toEqual(['a', 'b', 'd']);
    settle.d?.();
    await fourth;
    // Idle again: the next call starts at once.
    void next(key, run('e'));
    expect(started).toEqual(['a', 'b', 'd', 'e']);
    settle.e?.();
  });

  test('every call sharing a run gets its failure; the next run starts after a failed one', async () => {
    const { started, settle, run } = controlledRuns();
    const next = nextRun<object>();
    const key = {};
    const first = next(key, run('a'));
    const shared = [next(key, run('b')), next(key, run('c'))];
    settle.a?.(new Error('a failed'));
    await expect(first).rejects.toThrow('a failed');
    await tick();
    expect(started).toEqual(['a', 'b']);
    settle.b?.(new Error('b failed'));
    for (const call of shared) await expect(call).rejects.toThrow('b failed');
  });

  test('keys run apart', async () => {
    const { started, settle, run } = controlledRuns();
    const next = nextRun<object>();
    const [one, two] = [{}, {}];
    const calls = [next(one, run('one')), next(two, run('two'))];
    expect(started).toEqual(['one', 'two']);
    settle.one?.();
    settle.two?.();
    await Promise.all(calls);
  });
});
