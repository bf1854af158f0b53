import type { Logger } from 'pino';
import type { AuditLog } from './audit-log.js';

/** Deletes up to `limit` of the oldest events from before `before`; resolves how many went. */
export type PruneAuditEvents = (before: Date, limit: number) => Promise<number>;

interface AuditRetentionOptions {
  prune: PruneAuditEvents;
  /** Events older than this go (`audit.retention`). */
  retentionMs: number;
  logger: Logger;
  /** How often a run starts after the first: a quarter of the retention, at most an hour. */
  everyMs?: number;
  /** When the first run starts, after this is called. */
  firstAfterMs?: number;
  /** Rows per delete: each a short transaction, so the table is never locked for long. */
  batch?: number;
}

/** Most batches one run deletes: 500,000 events an hour with the defaults; a backlog goes over several runs. */
const MAX_BATCHES_PER_RUN = 500;

/**
 * `log` that also removes events older than `retentionMs` from `auth_events`, in the background:
 * soon after the start (an instance may not live an hour), then every `everyMs`. Every instance
 * runs it, and instances running at once skip each other's rows. A failed run is logged and the
 * next one tries again. `close` stops it after the batch under way, then closes `log`.
 */
export function withRetention(
  log: AuditLog,
  { prune, retentionMs, logger, everyMs = Math.min(retentionMs / 4, 3_600_000), firstAfterMs = 1000, batch = 1000 }: AuditRetentionOptions,
): AuditLog {
  let running: Promise<void> | undefined;
  let stopped = false;
  /** One run: batch after batch while they come back full; what it removed is logged, a failure too. */
  const run = async () => {
    const before = new Date(Date.now() - retentionMs);
    let removed = 0;
    try {
      for (let round = 0; round < MAX_BATCHES_PER_RUN && !stopped; round += 1) {
        const deleted = await prune(before, batch);
        removed += deleted;
        if (deleted < batch) break;
      }
    } catch (error) {
      logger.warn({ err: error, removed }, 'removing audit events older than audit.retention failed; the next run tries again');
      return;
    }
    if (removed > 0) logger.info({ removed }, 'audit events older than audit.retention removed');
  };
  const tick = () => {
    running ??= run().finally(() => (running = undefined));
  };
  const first = setTimeout(tick, firstAfterMs);
  const timer = setInterval(tick, everyMs);
  first.unref();
  timer.unref();
  return {
    ...log,
    async close() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      await running;
      await log.close();
    },
  };
}
