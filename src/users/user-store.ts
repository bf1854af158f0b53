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

/**
 * Persistent user storage (PostgreSQL, or PGlite in the embedded default).
 * Expected misses return `null`; only infrastructure failures throw
 * (as `UnavailableError` when the database cannot be reached or does not answer in time:
 * `lateWrite` in query-deadline.ts).
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
