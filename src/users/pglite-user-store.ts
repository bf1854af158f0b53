import { chmod, mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { type AuditEventsSink, createDrizzleAuditInsert } from '../audit/drizzle-audit-store.js';
import { lockDataDir } from './data-dir-lock.js';
import { createDrizzleUserStore } from './drizzle-user-store.js';
import { migratePglite } from './migrate.js';
import type { UserStore } from './user-store.js';

/**
 * `UserStore` on an embedded PGlite database persisted in `dataDir` (created if missing, owner only),
 * with migrations applied, plus the audit trail's inserts. One process only: PGlite cannot share
 * a data directory, so the directory is locked (`lockDataDir`) while the store is open.
 */
export async function createPgliteUserStore({ dataDir }: { dataDir: string }): Promise<UserStore & AuditEventsSink> {
  // PGlite writes its files readable and writable by everyone (0666, whatever the umask): only the
  // directory keeps other local users from the password hashes and the roles.
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
  const unlock = lockDataDir(dataDir);
  const client = await PGlite.create(dataDir).catch((error: unknown) => {
    unlock();
    throw error;
  });
  const close = async () => {
    try {
      await client.close();
    } finally {
      unlock();
    }
  };
  const db = drizzle({ client });
  try {
    await migratePglite(db);
  } catch (error) {
    await close();
    throw error;
  }
  return { ...createDrizzleUserStore(db, close), insertAuditEvents: createDrizzleAuditInsert(db) };
}
