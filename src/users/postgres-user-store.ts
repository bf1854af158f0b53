import { drizzle } from 'drizzle-orm/postgres-js';
import { type AuditEventsSink, createDrizzleAuditInsert, createDrizzleAuditPrune } from '../audit/drizzle-audit-store.js';
import { createDrizzleUserStore } from './drizzle-user-store.js';
import { postgresClient } from './postgres-client.js';
import type { UserStore } from './user-store.js';

export interface PostgresUserStoreOptions {
  /** postgres:// connection URL. */
  url: string;
  /** The password of the URL's user, when it is not in the URL (`database.password_file`). */
  password?: string | undefined;
  /** Most connections this process keeps open. */
  poolSize: number;
  /** Give up on an unreachable server after this long (queries then throw `UnavailableError`). */
  connectTimeoutMs: number;
  /** User-store queries unanswered at once beyond which a new one is refused (`MAX_QUERIES_WAITING`). */
  maxWaiting?: number;
}

/**
 * `UserStore` on PostgreSQL through a postgres.js pool, plus the audit trail's inserts on the same
 * pool. Run `migratePostgres` first.
 */
export function createPostgresUserStore({ url, password, poolSize, connectTimeoutMs, maxWaiting }: PostgresUserStoreOptions): UserStore & AuditEventsSink {
  const client = postgresClient(url, { password, max: poolSize, connectTimeoutMs, idleTimeoutS: 60 });
  // Queries get the same bound as connecting: a frozen server answers 503, never a hang.
  const db = drizzle({ client });
  return {
    ...createDrizzleUserStore(db, () => client.end({ timeout: 5 }), { deadlineMs: connectTimeoutMs, maxWaiting }),
    insertAuditEvents: createDrizzleAuditInsert(db, { deadlineMs: connectTimeoutMs }),
    pruneAuditEvents: createDrizzleAuditPrune(db, { deadlineMs: connectTimeoutMs }),
  };
}
