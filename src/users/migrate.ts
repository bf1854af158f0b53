import { fileURLToPath } from 'node:url';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePgliteDatabase } from 'drizzle-orm/pglite/migrator';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgresDatabase } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { UnavailableError } from '../http/errors.js';
import { isConnectionError } from './pg-errors.js';

/** `drizzle/` at the repository root, from `src/users/` (tsx, vitest) and `dist/users/` alike. */
export const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

/** Session advisory lock key serialising migrations across replicas (arbitrary, fixed forever). */
const MIGRATION_LOCK_KEY = '7382915046201873451';

/**
 * Applies pending migrations to PostgreSQL. Replicas starting at once queue on one
 * session-level advisory lock, so exactly one applies each migration and the rest find
 * nothing to do. Throws `UnavailableError` when the database cannot be reached.
 */
export async function migratePostgres(url: string, log?: (message: string) => void): Promise<void> {
  // max: 1 keeps the lock, the migrator's statements and the unlock on one session.
  const client = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK_KEY}::bigint)`;
    try {
      log?.(`applying database migrations from ${migrationsFolder}`);
      await migratePostgresDatabase(drizzle({ client }), { migrationsFolder });
      log?.('database migrations applied');
    } finally {
      // If the session is already gone, so is its lock: nothing left to release.
      await client`select pg_advisory_unlock(${MIGRATION_LOCK_KEY}::bigint)`.catch(() => {});
    }
  } catch (error) {
    if (isConnectionError(error)) throw new UnavailableError('database', error);
    throw error;
  } finally {
    await client.end({ timeout: 5 });
  }
}

/** Applies pending migrations to an embedded PGlite database (one process, no lock needed). */
export async function migratePglite<TSchema extends Record<string, unknown>>(
  db: PgliteDatabase<TSchema>,
): Promise<void> {
  await migratePgliteDatabase(db, { migrationsFolder });
}
