import { UnavailableError } from '../http/errors.js';
import { isLostInFlight } from './pg-errors.js';

/** A user as the service sees it. `email` is in its canonical form (`normaliseEmail`). */
export interface User {
  id: string;
  email: string;
  passwordHash: string;
  roles: string[];
  disabledAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What `changeAs` changes: the roles, or whether the account is disabled. */
export type UserChange = { roles: string[] } | { disabled: boolean };

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

/**
 * Persistent user storage (PostgreSQL, or PGlite in the embedded default).
 * Expected misses return `null`; only infrastructure failures throw
 * (as `UnavailableError` when the database cannot be reached or does not answer in time:
 * `lateWrite`).
 */
export interface UserStore {
  /** Inserts a user; returns `null` when the (normalised) e-mail is already taken. */
  create(input: { email: string; passwordHash: string; roles?: string[] }): Promise<User | null>;
  findByEmail(email: string): Promise<User | null>;
  findById(id: string): Promise<User | null>;
  /**
   * Replaces the password hash; returns `false` when the user does not exist, or — with
   * `expected` — when the stored hash is no longer `expected` (the password changed meanwhile).
   */
  setPasswordHash(id: string, passwordHash: string, expected?: string): Promise<boolean>;
  setRoles(id: string, roles: string[]): Promise<boolean>;
  setDisabled(id: string, disabled: boolean): Promise<boolean>;
  /**
   * `setRoles` / `setDisabled` made only while `by.userId` is an enabled user holding `by.role`:
   * checked and written in one transaction under a lock that every such change takes, so changes
   * made by two users at once are made one after the other, each by a user who still holds the
   * role. `'refused'` when `by` no longer does (nothing changes).
   */
  changeAs(by: { userId: string; role: string }, id: string, change: UserChange): Promise<'changed' | 'not_found' | 'refused'>;
  /** Removes a user; returns `false` when there was none. */
  delete(id: string): Promise<boolean>;
  /** Cheap round trip for readiness checks; throws when the database cannot answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
