import { mkdir, stat } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { type AuditEventsSink, createDrizzleAuditInsert } from '../audit/drizzle-audit-store.js';
import { lockDataDir } from './data-dir-lock.js';
import { createDrizzleUserStore } from './drizzle-user-store.js';
import { migratePglite } from './migrate.js';
import type { UserStore } from './user-store.js';

/**
 * `UserStore` on an embedded PGlite database persisted in `dataDir` (created if missing, for its
 * owner only), with migrations applied, plus the audit trail's inserts. One process only: PGlite
 * cannot share a data directory, so the directory is locked (`lockDataDir`) while the store is open.
 */
export async function createPgliteUserStore({ dataDir, warn = () => {} }: { dataDir: string; warn?: (message: string) => void }): Promise<UserStore & AuditEventsSink> {
  // PGlite writes its files readable and writable by everyone (0666, whatever the umask): only the
  // directory keeps other local users from the password hashes and the roles. One that was there
  // before is the operator's to change.
  if ((await mkdir(dataDir, { recursive: true, mode: 0o700 })) === undefined) {
    const mode = (await stat(dataDir)).mode & 0o777;
    if (mode & 0o077) {
      warn(`database.data_dir ${dataDir} is open to other users (mode ${mode.toString(8)}), and PGlite's files in it (password hashes included) are readable by everyone: chmod 700 it`);
    }
  }
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
