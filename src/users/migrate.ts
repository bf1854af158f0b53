import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePgliteDatabase } from 'drizzle-orm/pglite/migrator';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgresDatabase } from 'drizzle-orm/postgres-js/migrator';
import type postgres from 'postgres';
import { UnavailableError } from '../errors.js';
import { isConnectionError } from './pg-errors.js';
import { postgresClient } from './postgres-client.js';

/** `drizzle/` at the repository root, from `src/users/` (tsx, vitest) and `dist/users/` alike. */
export const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

/** Session advisory lock key serialising migrations across replicas (arbitrary, fixed forever). */
const MIGRATION_LOCK_KEY = '7382915046201873451';

/** How long a replica waits for another one's migration before giving up (to be restarted). */
const LOCK_WAIT_MS = 5 * 60_000;
const LOCK_POLL_MS = 500;

export interface MigrateOptions {
  log?: (message: string) => void;
  connectTimeoutMs?: number;
  lockWaitMs?: number;
  /** The password of the URL's user, when it is not in the URL. */
  password?: string | undefined;
}

/**
 * Applies pending migrations to PostgreSQL. Replicas starting at once queue on one
 * session-level advisory lock, so exactly one applies each migration and the rest find
 * nothing to do; a replica waiting says so, and gives up after `lockWaitMs` (a holder stuck
 * on a lost connection can keep it for as long as TCP takes to notice). Throws
 * `UnavailableError` when the database cannot be reached or the lock does not come.
 * It needs a session of its own: behind a transaction-pooling PgBouncer, point it elsewhere.
 */
export async function migratePostgres(url: string, { log, connectTimeoutMs = 10_000, lockWaitMs = LOCK_WAIT_MS, password }: MigrateOptions = {}): Promise<void> {
  // max: 1 keeps the lock, the migrator's statements and the unlock on one session.
  const client = postgresClient(url, { max: 1, connectTimeoutMs, password, driverTimeouts: false });
  try {
    await takeLock(client, lockWaitMs, log);
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

async function takeLock(client: postgres.Sql, waitMs: number, log?: (message: string) => void): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let waiting = false; ; waiting = true) {
    const [row] = await client<{ taken: boolean }[]>`select pg_try_advisory_lock(${MIGRATION_LOCK_KEY}::bigint) as taken`;
    if (row?.taken) return;
    if (Date.now() >= deadline) {
      const cause = new Error(`another session has held the migration lock (advisory lock ${MIGRATION_LOCK_KEY}) for over ${Math.round(waitMs / 1000)} s`);
      throw new UnavailableError('database', cause);
    }
    if (!waiting) log?.('waiting for another replica to finish the database migrations');
    await sleep(LOCK_POLL_MS);
  }
}

/** Applies pending migrations to an embedded PGlite database (one process, no lock needed). */
export async function migratePglite<TSchema extends Record<string, unknown>>(
  db: PgliteDatabase<TSchema>,
): Promise<void> {
  await migratePgliteDatabase(db, { migrationsFolder });
}
