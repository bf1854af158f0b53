import { sql } from 'drizzle-orm';
import { bigint, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * The audit trail: one row per auth event, appended off the request path by `createAuditLog`.
 * No foreign key to `users`: the trail outlives the accounts it mentions (a deleted or
 * rolled-back user keeps its history). Never holds passwords, hashes or tokens.
 */
export const authEvents = pgTable(
  'auth_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull().defaultNow(),
    event: text('event').notNull(),
    userId: uuid('user_id'),
    sessionId: uuid('session_id'),
    ip: text('ip'),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
  },
  (table) => [
    index('auth_events_user_id_occurred_at_idx').on(table.userId, table.occurredAt),
    index('auth_events_occurred_at_idx').on(table.occurredAt),
  ],
);
