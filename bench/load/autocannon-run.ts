import autocannon from 'autocannon';
import { createHistogram } from './histogram.js';
import type { LoadSummary } from './jobs.js';

/** Counts responses by status and records latency at 10 µs resolution (autocannon's own histogram has 1 ms). */
export function createTally() {
  const histogram = createHistogram();
  const statuses: Record<string, number> = {};
  let requests = 0;
  let ok = 0;
  let errors = 0;
  return {
    response(status: number, ms: number): void {
      requests += 1;
      if (status >= 200 && status < 300) ok += 1;
      statuses[status] = (statuses[status] ?? 0) + 1;
      histogram.record(ms);
    },
    error(): void {
      errors += 1;
    },
    summary(seconds: number): LoadSummary {
      // A copy: answers that arrive later (abandoned requests) do not change a summary given.
      return { requests, ok, statuses: { ...statuses }, errors, seconds, latency: histogram.summary() };
    },
  };
}

/**
 * Runs autocannon for `ms` (or until `options.amount` responses, whichever is first) and
 * summarises it from its per-response events.
 */
export function runAutocannon(options: autocannon.Options, ms: number): Promise<LoadSummary> {
  const tally = createTally();
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const instance = autocannon({ ...options, duration: Math.ceil(ms / 1000) + 60, timeout: 10 }, (error: unknown) => {
      clearTimeout(timer);
      if (error) reject(error instanceof Error ? error : new Error(String(error)));
      else resolve(tally.summary((performance.now() - started) / 1000));
    });
    instance.on('response', (_client, status, _bytes, responseTime) => tally.response(status, responseTime));
    instance.on('reqError', () => tally.error());
    timer = setTimeout(() => instance.stop(), ms);
  });
}
