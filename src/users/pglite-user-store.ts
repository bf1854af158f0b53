import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { createDrizzleUserStore } from './drizzle-user-store.js';
import { migratePglite } from './migrate.js';
import type { UserStore } from './user-store.js';

/**
 * `UserStore` on an embedded PGlite database persisted in `dataDir` (created if missing),
 * with migrations applied. One process only: PGlite cannot share a data directory.
 */
export async function createPgliteUserStore({ dataDir }: { dataDir: string }): Promise<UserStore> {
  await mkdir(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir);
  const db = drizzle({ client });
  try {
    await migratePglite(db);
  } catch (error) {
    await client.close();
    throw error;
  }
  return createDrizzleUserStore(db, () => client.close());
}
