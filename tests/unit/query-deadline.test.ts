import { describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/errors.js';
import { lateWrite, queryWithDeadline } from '../../src/users/query-deadline.js';

/** A query as drizzle builds one: a thenable that runs (and counts a run) on every `then`. */
function queryAnsweringAfter(ms: number, outcome: 'ok' | 'fail') {
  const runs = { count: 0 };
  const query = {
    then<R1, R2>(resolve: (value: string) => R1, reject: (error: unknown) => R2) {
      runs.count += 1;
      return new Promise<string>((ok, fail) => setTimeout(() => (outcome === 'ok' ? ok('written') : fail(new Error('refused'))), ms)).then(resolve, reject);
    },
  };
  return { query, runs };
}

const settledWithin = (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), ms))]);

describe('a query past its deadline (queryWithDeadline)', () => {
  it('is unavailable at the deadline; lateWrite resolves once the database answers it at last, with its answer, and the query ran once', async () => {
    // The database answers 2 s late: a worker stalled for a while (a loaded machine) still checks in time that it has not yet.
    const { query, runs } = queryAnsweringAfter(2_000, 'ok');
    const started = Date.now();
    const error = await queryWithDeadline(() => query as unknown as Promise<string>, 10).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(Date.now() - started).toBeLessThan(1_000); // at the deadline, not when the database answers (2 s)
    const landing = lateWrite(error);
    expect(landing).toBeInstanceOf(Promise);
    expect(await settledWithin(landing as Promise<unknown>, 20)).toBe(false);
    expect(await settledWithin(landing as Promise<unknown>, 5_000)).toBe(true);
    // With what the write answered.
    expect(await landing).toBe('written');
    expect(runs.count).toBe(1);
  });

  it('a late query that fails has settled too (a connection reset may come after a commit); other errors are no late write', async () => {
    const { query } = queryAnsweringAfter(2_000, 'fail');
    const error = await queryWithDeadline(() => query as unknown as Promise<string>, 5).catch((caught: unknown) => caught);
    const landing = lateWrite(error) as Promise<unknown>;
    expect(await settledWithin(landing, 20)).toBe(false);
    expect(await settledWithin(landing, 5_000)).toBe(true);
    expect(await landing).toBeUndefined();
    expect(lateWrite(new UnavailableError('database', new Error('ECONNREFUSED')))).toBeUndefined();
    expect(lateWrite(new Error('bug'))).toBeUndefined();
  });

  it('an answer within the deadline is the answer', async () => {
    const { query, runs } = queryAnsweringAfter(5, 'ok');
    expect(await queryWithDeadline(() => query as unknown as Promise<string>, 500)).toBe('written');
    expect(runs.count).toBe(1);
  });
});
