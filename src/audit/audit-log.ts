import type { Logger } from 'pino';
import { UnavailableError } from '../errors.js';
import { isUuid } from '../util/uuid.js';
import { waitAtMost } from '../util/wait-at-most.js';
import { createBoundedQueue } from './bounded-queue.js';
import type { AuthEvent } from './events.js';

/** Longest user agent kept (characters); the rest is cut. */
const MAX_USER_AGENT = 256;
/** Longer than any IPv6 text form with a zone: anything beyond is not an address. */
const MAX_IP = 64;

/** One `auth_events` row as written (the id is the database's). */
export interface AuditRow {
  occurredAt: Date;
  event: string;
  userId: string | null;
  sessionId: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

/**
 * Appends rows in one statement. Throws `UnavailableError` when the database cannot take them
 * right now (the rows are kept and retried); any other error means the rows themselves were
 * refused (they are retried one by one, and the refused ones dropped).
 */
export type InsertAuditBatch = (rows: readonly AuditRow[]) => Promise<void>;

export interface AuditStats {
  /** Events held in memory: waiting, or in a write under way. */
  queued: number;
  written: number;
  /** Oldest events dropped because the queue was full (the database was down or slow for long). */
  dropped: number;
  /** Events the database refused as invalid. */
  rejected: number;
}

/** The audit trail writer: events are queued in memory and written in batches, off the request path. */
export interface AuditLog {
  /** Queues an event. Never throws, never waits; a full queue drops its oldest event (counted). */
  record(event: AuthEvent): void;
  /** Writes what is queued now, one attempt. Never rejects. */
  flush(): Promise<void>;
  /** Stops the timer and writes what is left, for at most `closeTimeoutMs`. Later events are dropped. */
  close(): Promise<void>;
  stats(): AuditStats;
}

export interface AuditLogOptions {
  insertBatch: InsertAuditBatch;
  logger: Logger;
  /** Most events held in memory. */
  maxQueue?: number;
  /** Write queued events this often (ms). */
  flushMs?: number;
  /** Most rows per insert; reaching it also starts a write at once. */
  batchSize?: number;
  /** Longest `close` waits for the last write (ms). */
  closeTimeoutMs?: number;
  /** Longest pause between retries while the database is unavailable (ms). */
  maxBackoffMs?: number;
}

const clip = (text: string | undefined, max: number) => (text ? text.replaceAll('\0', '').slice(0, max) : undefined);

/** Strings lose NUL characters, which jsonb cannot hold (a literal `\u0000` in a string is text and stays). */
const withoutNul = (_key: string, value: unknown) => (typeof value === 'string' ? value.replaceAll('\0', '') : value);

/** A defensive JSON copy: later mutation by the caller, or a value jsonb cannot hold, never reaches the batch. */
function jsonCopy(details: Record<string, unknown>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(details, withoutNul)) as Record<string, unknown>;
  } catch {
    return { unserialisable_details: true };
  }
}

/** The row for an event: ids that are not UUIDs become `null` (a uuid column would refuse the whole batch). */
export function auditRow(event: AuthEvent, occurredAt = new Date()): AuditRow {
  const userAgent = clip(event.userAgent, MAX_USER_AGENT);
  const details = { ...event.details, ...(userAgent ? { user_agent: userAgent } : {}) };
  return {
    occurredAt,
    event: event.event,
    userId: isUuid(event.userId) ? event.userId : null,
    sessionId: isUuid(event.sessionId) ? event.sessionId : null,
    ip: clip(event.ip, MAX_IP) ?? null,
    details: jsonCopy(details),
  };
}

/**
 * Builds the writer. A slow or unreachable database never reaches a request: `record` only
 * queues, one write runs at a time from a timer, a failed batch goes back to the queue and is
 * retried with exponential back-off, and the bounded queue drops its oldest events when full.
 * Delivery is at least once: a write that timed out may still commit and be written again.
 */
export function createAuditLog({
  insertBatch,
  logger,
  maxQueue = 10_000,
  flushMs = 1000,
  batchSize = 500,
  closeTimeoutMs = 5000,
  maxBackoffMs = 30_000,
}: AuditLogOptions): AuditLog {
  const queue = createBoundedQueue<AuditRow>(maxQueue);
  const counts = { written: 0, dropped: 0, rejected: 0 };
  let droppedUnreported = 0;
  let failures = 0;
  let retryAt = 0;
  let running: Promise<void> | undefined;
  let inFlight = 0;
  let scheduled = false;
  let closed = false;

  const drop = (count: number) => {
    counts.dropped += count;
    droppedUnreported += count;
  };

  /**
   * Row by row after a refused batch, so one bad event costs only itself. With the database gone
   * midway, `unsent` is what is left to retry: the rows written or refused are done.
   */
  const insertEach = async (batch: AuditRow[], unsent: (rows: AuditRow[]) => void) => {
    for (const [index, row] of batch.entries()) {
      try {
        await insertBatch([row]);
        counts.written += 1;
      } catch (error) {
        if (error instanceof UnavailableError) {
          unsent(batch.slice(index));
          throw error;
        }
        counts.rejected += 1;
        logger.error({ err: error, event: row.event }, 'audit: event refused by the database, dropped');
      }
    }
  };

  const write = async (batch: AuditRow[]): Promise<boolean> => {
    inFlight = batch.length;
    let retry = batch;
    try {
      try {
        await insertBatch(batch);
        counts.written += batch.length;
      } catch (error) {
        if (error instanceof UnavailableError || batch.length === 1) throw error;
        await insertEach(batch, (rows) => (retry = rows));
      }
      if (failures > 0) logger.info({ queued: queue.size }, 'audit: database reachable again');
      failures = 0;
      return true;
    } catch (error) {
      if (!(error instanceof UnavailableError)) {
        counts.rejected += batch.length;
        logger.error({ err: error, event: batch[0]?.event }, 'audit: event refused by the database, dropped');
        return true;
      }
      drop(queue.putBack(retry));
      if (failures === 0) logger.warn({ err: error, queued: queue.size }, 'audit: database unavailable, events kept in memory for retry');
      failures += 1;
      retryAt = Date.now() + Math.min(maxBackoffMs, flushMs * 2 ** (failures - 1));
      return false;
    } finally {
      inFlight = 0;
    }
  };

  const drain = async () => {
    while (queue.size > 0 && (await write(queue.take(batchSize))));
    if (droppedUnreported > 0) {
      logger.warn({ dropped: droppedUnreported, total_dropped: counts.dropped }, 'audit: queue full, oldest events dropped');
      droppedUnreported = 0;
    }
  };

  const flush = () => {
    running ??= drain().finally(() => {
      running = undefined;
    });
    return running;
  };

  const flushUnlessBackingOff = () => {
    if (Date.now() >= retryAt) void flush();
  };

  const timer = setInterval(flushUnlessBackingOff, flushMs);
  timer.unref();

  return {
    record(event) {
      if (closed) {
        drop(1);
        return;
      }
      drop(queue.push(auditRow(event)));
      // A full batch is written now rather than at the next tick, but never on the caller's stack.
      if (queue.size >= batchSize && !running && !scheduled) {
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          flushUnlessBackingOff();
        });
      }
    },
    flush,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      // A write already under way may have failed: one more attempt for what it put back.
      const last = async () => {
        await flush();
        if (queue.size > 0) await flush();
      };
      await waitAtMost(last(), closeTimeoutMs);
      if (queue.size > 0) logger.error({ lost: queue.size }, 'audit: events not written before shutdown');
    },
    stats: () => ({ queued: queue.size + inFlight, ...counts }),
  };
}

/** `audit.enabled: false`: events are not stored (the use cases still log them). */
export function disabledAuditLog(): AuditLog {
  return {
    record() {},
    flush: async () => {},
    close: async () => {},
    stats: () => ({ queued: 0, written: 0, dropped: 0, rejected: 0 }),
  };
}
