import type { Logger } from 'pino';
import type { AuditLog } from './audit-log.js';

/** Deletes up to `limit` of the oldest events from before `before`; resolves how many went. */
export type PruneAuditEvents = (before: Date, limit: number) => Promise<number>;

export interface AuditRetentionOptions {
  prune: PruneAuditEvents;
  /** Events older than this go (`audit.retention`). */
  retentionMs: number;
  logger: Logger;
  /** How often a run starts: a quarter of the retention, between 1 s and an hour. */
  everyMs?: number;
  /** Rows per delete: each a short transaction, so the table is never locked for long. */
  batch?: number;
}

/** Most batches one run deletes: 500,000 events an hour with the defaults; a backlog goes over several runs. */
const MAX_BATCHES_PER_RUN = 500;

/**
 * `log` that also removes events older than `retentionMs` from `auth_events`, in the background:
 * every instance runs it, and instances running at once skip each other's rows. A failed run is
 * logged and the next one tries again. `close` stops it (waiting for a run under way), then
 * closes `log`.
 */
export function withRetention(log: AuditLog, { prune, retentionMs, logger, everyMs, batch = 1000 }: AuditRetentionOptions): AuditLog {
  let running: Promise<void> | undefined;
  const run = async () => {
    const before = new Date(Date.now() - retentionMs);
    let removed = 0;
    for (let round = 0; round < MAX_BATCHES_PER_RUN; round += 1) {
      const deleted = await prune(before, batch);
      removed += deleted;
      if (deleted < batch) break;
    }
    if (removed > 0) logger.info({ removed, before }, 'audit events older than audit.retention removed');
  };
  const timer = setInterval(
    () => {
      running ??= run()
        .catch((error: unknown) => logger.warn({ err: error }, 'removing audit events older than audit.retention failed; the next run tries again'))
        .finally(() => (running = undefined));
    },
    everyMs ?? Math.min(Math.max(retentionMs / 4, 1000), 3_600_000),
  );
  timer.unref();
  return {
    ...log,
    async close() {
      clearInterval(timer);
      await running;
      await log.close();
    },
  };
}
