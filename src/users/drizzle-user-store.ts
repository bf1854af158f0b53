import { and, eq, sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgUpdateSetSource } from 'drizzle-orm/pg-core';
import { normaliseEmail } from './email.js';
import { isUniqueViolation } from './pg-errors.js';
import { users } from './schema.js';
import { queryWithDeadline, type QueryGate } from './query-deadline.js';
import type { User, UserChange, UserStore } from './user-store.js';
import { isUuid } from '../util/uuid.js';

/** The advisory lock every `changeAs` holds for its transaction (a constant of this service's own). */
const CHANGE_AS_LOCK = 0x6a77_7461;

/**
 * Most queries of one store sent and not yet answered (`QueryGate`). A query past its deadline
 * is not cancelled (a write may commit all the same) and still waits in the driver, whose queue
 * has no bound on its length: with the server frozen, each request would add one until memory
 * ran out.
 */
export const MAX_QUERIES_WAITING = 1_000;

/**
 * The `UserStore` queries, shared by every drizzle PostgreSQL driver (postgres.js, PGlite).
 * Ids that are not UUIDs are treated as unknown users rather than sent to the database,
 * where they would fail the uuid cast.
 */
export function createDrizzleUserStore<TQueryResult extends PgQueryResultHKT>(
  db: PgDatabase<TQueryResult>,
  close: () => Promise<void>,
  { deadlineMs = 2000, maxWaiting = MAX_QUERIES_WAITING }: { deadlineMs?: number; maxWaiting?: number | undefined } = {},
): UserStore {
  const gate: QueryGate = { waiting: 0, max: maxWaiting };
  const guard = <T>(operation: () => Promise<T>) => queryWithDeadline(operation, deadlineMs, gate);
  // The lookups of every login, built once: drizzle renders the SQL of an ad-hoc query on each
  // call, which measured as the largest part of a login's CPU outside argon2.
  const one = (where: SQL) => db.select().from(users).where(where).limit(1);
  const byEmail = one(eq(users.email, sql.placeholder('email'))).prepare('users_by_email');
  const byId = one(eq(users.id, sql.placeholder('id'))).prepare('users_by_id');
  // The query is started by the guard (a function, not a running query): one refused is never sent.
  const first = async (rows: () => Promise<User[]>): Promise<User | null> => (await guard(rows))[0] ?? null;

  const updated = (on: PgDatabase<TQueryResult>, match: SQL | undefined, values: PgUpdateSetSource<typeof users>) =>
    on
      .update(users)
      .set({ ...values, updatedAt: sql`now()` })
      .where(match)
      .returning({ id: users.id });
  const update = async (id: string, values: PgUpdateSetSource<typeof users>, expectedHash?: string): Promise<boolean> => {
    if (!isUuid(id)) return false;
    const match = expectedHash === undefined ? eq(users.id, id) : and(eq(users.id, id), eq(users.passwordHash, expectedHash));
    // Converted inside the guard: a late write's answer (`lateWrite`) is this boolean too.
    return guard(() => updated(db, match, values).then((rows) => rows.length > 0));
  };
  // Re-disabling keeps the original timestamp.
  const disabledAt = (disabled: boolean) => ({ disabledAt: disabled ? sql`coalesce(${users.disabledAt}, now())` : null });
  const valuesOf = (change: UserChange): PgUpdateSetSource<typeof users> => ('roles' in change ? { roles: change.roles } : disabledAt(change.disabled));

  return {
    async create({ email, passwordHash, roles }) {
      try {
        const rows = await guard(() =>
          db
            .insert(users)
            .values({ email: normaliseEmail(email), passwordHash, ...(roles ? { roles } : {}) })
            .returning(),
        );
        return rows[0] ?? null;
      } catch (error) {
        if (isUniqueViolation(error)) return null;
        throw error;
      }
    },
    findByEmail: (email) => first(() => byEmail.execute({ email: normaliseEmail(email) })),
    findById: async (id) => (isUuid(id) ? first(() => byId.execute({ id })) : null),
    setPasswordHash: (id, passwordHash, expected) => update(id, { passwordHash }, expected),
    setRoles: (id, roles) => update(id, { roles }),
    setDisabled: (id, disabled) => update(id, disabledAt(disabled)),
    async changeAs(by, id, change) {
      if (!isUuid(by.userId)) return 'refused';
      if (!isUuid(id)) return 'not_found';
      // Its three statements (the lock wait included) each end within a quarter of the query
      // deadline: a change held up there is rolled back. One that waited for a connection past
      // the deadline still runs, and may commit after its caller's 503 (`lateWrite`): the
      // caller ends the user's sessions for it.
      const bound = `${Math.max(1, Math.floor(deadlineMs / 4))}ms`;
      return guard(() =>
        db.transaction(async (tx) => {
          await tx.execute(sql`select set_config('lock_timeout', ${bound}, true), set_config('statement_timeout', ${bound}, true)`);
          await tx.execute(sql`select pg_advisory_xact_lock(${CHANGE_AS_LOCK})`);
          const [actor] = await tx
            .select({ roles: users.roles, disabledAt: users.disabledAt })
            .from(users)
            .where(eq(users.id, by.userId));
          if (!actor || actor.disabledAt !== null || !actor.roles.includes(by.role)) return 'refused';
          const rows = await updated(tx, eq(users.id, id), valuesOf(change));
          return rows.length > 0 ? 'changed' : 'not_found';
        }),
      );
    },
    async delete(id) {
      if (!isUuid(id)) return false;
      const rows = await guard(() => db.delete(users).where(eq(users.id, id)).returning({ id: users.id }));
      return rows.length > 0;
    },
    async ping() {
      await guard(() => db.execute(sql`select 1`));
    },
    close,
  } satisfies UserStore;
}
