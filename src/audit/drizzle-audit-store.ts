import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { guarded } from '../users/drizzle-user-store.js';
import type { InsertAuditBatch } from './audit-log.js';
import { authEvents } from './schema.js';

/**
 * `insertBatch` for the audit writer on a drizzle database (postgres.js or PGlite), sharing the
 * user store's connection pool. One multi-row insert per batch; connection failures and a
 * missing answer within `deadlineMs` throw `UnavailableError`, so the writer retries later.
 */
export function createDrizzleAuditInsert<TQueryResult extends PgQueryResultHKT>(
  db: PgDatabase<TQueryResult>,
  { deadlineMs = 2000 }: { deadlineMs?: number } = {},
): InsertAuditBatch {
  return async (rows) => {
    if (rows.length === 0) return;
    await guarded(() => db.insert(authEvents).values([...rows]), deadlineMs);
  };
}

/** A store that also takes the audit trail's writes, on the same connections. */
export interface AuditEventsSink {
  insertAuditEvents: InsertAuditBatch;
}
