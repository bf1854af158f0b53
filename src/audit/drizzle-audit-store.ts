import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { guarded, type QueryGate } from '../users/drizzle-user-store.js';
import type { InsertAuditBatch } from './audit-log.js';
import { authEvents } from './schema.js';

/**
 * `insertBatch` for the audit writer on a drizzle database (postgres.js or PGlite), sharing the
 * user store's connection pool. One multi-row insert per batch; connection failures and a
 * missing answer within `deadlineMs` throw `UnavailableError`, so the writer retries later.
 * One insert at a time, as the writer sends them: a retry that finds the last one still waiting
 * in the pool past its deadline is refused at once, not queued behind it (with the database
 * frozen, each retry would leave another batch there).
 */
export function createDrizzleAuditInsert<TQueryResult extends PgQueryResultHKT>(
  db: PgDatabase<TQueryResult>,
  { deadlineMs = 2000 }: { deadlineMs?: number } = {},
): InsertAuditBatch {
  const gate: QueryGate = { waiting: 0, max: 1 };
  return async (rows) => {
    if (rows.length === 0) return;
    await guarded(() => db.insert(authEvents).values([...rows]), deadlineMs, gate);
  };
}

/** A store that also takes the audit trail's writes, on the same connections. */
export interface AuditEventsSink {
  insertAuditEvents: InsertAuditBatch;
}
