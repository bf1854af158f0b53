import { inArray, lt } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { queryWithDeadline, type QueryGate } from '../users/query-deadline.js';
import type { InsertAuditBatch } from './audit-log.js';
import type { PruneAuditEvents } from './retention.js';
import { authEvents } from './schema.js';

/**
 * Audit inserts that may be unanswered at once. The writer sends one at a time, but one past its
 * deadline still waits in the pool: with the database frozen, each retry would leave another
 * batch there. A few may wait, so that one stuck on a half-open connection does not stop the
 * trail while other connections work; beyond that a retry is refused at once.
 */
const AUDIT_INSERTS_WAITING = 4;

/**
 * `insertBatch` for the audit writer on a drizzle database (postgres.js or PGlite), sharing the
 * user store's connection pool. One multi-row insert per batch; connection failures and a
 * missing answer within `deadlineMs` throw `UnavailableError`, so the writer retries later.
 */
export function createDrizzleAuditInsert<TQueryResult extends PgQueryResultHKT>(
  db: PgDatabase<TQueryResult>,
  { deadlineMs = 2000 }: { deadlineMs?: number } = {},
): InsertAuditBatch {
  const gate: QueryGate = { waiting: 0, max: AUDIT_INSERTS_WAITING };
  return async (rows) => {
    if (rows.length === 0) return;
    await queryWithDeadline(() => db.insert(authEvents).values([...rows]), deadlineMs, gate);
  };
}

/**
 * `pruneAuditEvents` on a drizzle database: deletes up to `limit` of the oldest events from before
 * `before`, skipping rows another instance is deleting at the same moment (no waiting on it).
 */
export function createDrizzleAuditPrune<TQueryResult extends PgQueryResultHKT>(
  db: PgDatabase<TQueryResult>,
  { deadlineMs = 2000 }: { deadlineMs?: number } = {},
): PruneAuditEvents {
  return async (before, limit) => {
    const oldest = db.select({ id: authEvents.id }).from(authEvents).where(lt(authEvents.occurredAt, before)).orderBy(authEvents.occurredAt).limit(limit).for('update', { skipLocked: true });
    const removed = await queryWithDeadline(() => db.delete(authEvents).where(inArray(authEvents.id, oldest)).returning({ id: authEvents.id }), deadlineMs);
    return removed.length;
  };
}

/** A store that also takes the audit trail's writes, and removes its old events, on the same connections. */
export interface AuditEventsSink {
  insertAuditEvents: InsertAuditBatch;
  pruneAuditEvents: PruneAuditEvents;
}
