import { UnavailableError } from '../errors.js';
import { isConnectionError, isLostInFlight } from './pg-errors.js';

/** A query that got no answer within the store's deadline. Nothing cancels it: a write may still commit. */
export class QueryDeadlineError extends Error {
  override name = 'QueryDeadlineError';

  /** `late`: the query, still running. */
  constructor(
    message: string,
    readonly late: Promise<unknown>,
  ) {
    super(message);
  }
}

/** Counts a store's queries that have not been answered yet, deadline or not (see `queryWithDeadline`). */
export interface QueryGate {
  waiting: number;
  readonly max: number;
}

/**
 * Rethrows connection failures as `UnavailableError`, and so does a query with no answer within
 * `deadlineMs` (a frozen or partitioned server never errors on its own). Anything else is a bug
 * and passes through. With a `gate`, a query finding `gate.max` still unanswered is not sent:
 * `UnavailableError` at once.
 */
export async function queryWithDeadline<T>(operation: () => Promise<T>, deadlineMs: number, gate?: QueryGate): Promise<T> {
  if (gate && gate.waiting >= gate.max) {
    throw new UnavailableError('database', new Error(`${gate.waiting} queries are still waiting for an answer`));
  }
  let timer: NodeJS.Timeout | undefined;
  // A real promise, so the query runs once whoever awaits it (a drizzle query runs on each
  // `then`), and a synchronous throw is a rejection like any other.
  const running = Promise.resolve().then(operation);
  if (gate) {
    gate.waiting += 1;
    const answered = () => void (gate.waiting -= 1);
    running.then(answered, answered);
  }
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new QueryDeadlineError(`no answer within ${deadlineMs} ms`, running)), deadlineMs);
  });
  try {
    return await Promise.race([running, deadline]);
  } catch (error) {
    if (error instanceof QueryDeadlineError || isConnectionError(error)) throw new UnavailableError('database', error);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * For the store's `UnavailableError` of a write that may have been made or may still be: a
 * promise that resolves once the query has settled at last, whatever its outcome, with what the
 * write answered (`undefined` if that is not known). Such a write either got no answer in time
 * (the promise waits for it: an error then, a connection reset say, may come after a commit), or
 * lost its connection while on it (settled: it may have committed just before). `undefined` for
 * any other error.
 */
export function lateWrite(error: unknown): Promise<unknown> | undefined {
  if (!(error instanceof UnavailableError)) return undefined;
  if (error.cause instanceof QueryDeadlineError) return error.cause.late.catch(() => undefined);
  return isLostInFlight(error.cause) ? Promise.resolve(undefined) : undefined;
}
