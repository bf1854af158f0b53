import { UnavailableError } from '../../src/errors.js';
import { QueryDeadlineError } from '../../src/users/query-deadline.js';
import type { UserStore } from '../../src/users/user-store.js';

/**
 * Makes the next call of `users[method]` (only the next) what a write past the store's deadline
 * is: a 503 at once (`UnavailableError` of a `QueryDeadlineError`), while the real write waits,
 * as one queued for a pool connection does, and runs once `land()` is called.
 */
export function landingLate(users: UserStore, method: 'changeAs' | 'setRoles' | 'setPasswordHash'): { land(): void } {
  let land!: () => void;
  const landed = new Promise<void>((resolve) => (land = resolve));
  const real = users[method] as (...args: unknown[]) => Promise<unknown>;
  const late = async (...args: unknown[]): Promise<never> => {
    users[method] = real as never;
    const write = landed.then(() => real(...args));
    throw new UnavailableError('database', new QueryDeadlineError('injected: no answer within 2000 ms', write));
  };
  users[method] = late as never;
  return { land };
}
