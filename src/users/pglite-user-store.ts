import { chmod, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { type AuditEventsSink, createDrizzleAuditInsert, createDrizzleAuditPrune } from '../audit/drizzle-audit-store.js';
import { makeDataDir } from './data-dir.js';
import { lockDataDir } from './data-dir-lock.js';
import { createDrizzleUserStore } from './drizzle-user-store.js';
import { migratePglite } from './migrate.js';
import type { UserStore } from './user-store.js';

/**
 * An existing data directory open to others is closed (0700) if it is this user's own and not the
 * working directory (which other things may need to read); otherwise the operator is told.
 */
async function closeToOthers(dataDir: string, warn: (message: string) => void): Promise<void> {
  const { mode, uid } = await stat(dataDir);
  if ((mode & 0o077) === 0) return;
  if (uid === process.getuid?.() && resolve(dataDir) !== process.cwd()) {
    await chmod(dataDir, 0o700);
    return;
  }
  warn(`database.data_dir ${dataDir} is open to other users (mode ${(mode & 0o777).toString(8)}), and PGlite's files in it (password hashes included) are readable by everyone: chmod 700 it`);
}

/**
 * `UserStore` on an embedded PGlite database persisted in `dataDir` (created if missing, for its
 * owner only), with migrations applied, plus the audit trail's inserts. One process only: PGlite
 * cannot share a data directory, so the directory is locked (`lockDataDir`) while the store is open.
 */
export async function createPgliteUserStore({ dataDir, warn = () => {} }: { dataDir: string; warn?: (message: string) => void }): Promise<UserStore & AuditEventsSink> {
  // PGlite writes its files readable and writable by everyone (0666, whatever the umask): only the
  // directory keeps other local users from the password hashes and the roles.
  if (!makeDataDir(dataDir)) await closeToOthers(dataDir, warn);
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
  return { ...createDrizzleUserStore(db, close), insertAuditEvents: createDrizzleAuditInsert(db), pruneAuditEvents: createDrizzleAuditPrune(db) };
}
