import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { disabledAuditLog } from '../../src/audit/audit-log.js';
import { withRetention } from '../../src/audit/retention.js';

const HOUR_MS = 3_600_000;

describe('audit retention runs (withRetention)', () => {
  it('runs soon after the start, deletes batch after batch while they come back full, and a close stops it after the batch under way', async () => {
    const cutoffs: number[] = [];
    let inFlight = 0;
    // A backlog bigger than any run: every batch comes back full.
    const prune = async (before: Date, limit: number) => {
      cutoffs.push(before.getTime());
      inFlight += 1;
      await sleep(2);
      inFlight -= 1;
      return limit;
    };
    const started = Date.now();
    const audit = withRetention(disabledAuditLog(), { prune, retentionMs: HOUR_MS, logger: pino({ level: 'silent' }), firstAfterMs: 10, everyMs: HOUR_MS, batch: 5 });
    await expect.poll(() => cutoffs.length).toBeGreaterThanOrEqual(3);
    // Events older than the retention, as of the run's start.
    expect(cutoffs[0]).toBeGreaterThanOrEqual(started - HOUR_MS);
    expect(cutoffs[0]).toBeLessThanOrEqual(Date.now() - HOUR_MS);
    await audit.close();
    const atClose = cutoffs.length;
    expect(inFlight).toBe(0);
    await sleep(50);
    expect(cutoffs.length).toBe(atClose);
    expect(atClose).toBeLessThan(500); // not the whole run of 500 batches
  });
});
