import { createTally } from './autocannon-run.js';
import { createHttpClient } from './http.js';
import type { LoadJob, LoadSummary } from './jobs.js';

/** How often the pacer wakes to send what has come due (Node timers have 1 ms resolution). */
const TICK_MS = 1;
/** After the run, answers still outstanding are awaited this long, then counted as errors. */
const DRAIN_MS = 2_000;

/**
 * Open-loop GET load at `job.rate` req/s for `job.ms`: the k-th request falls due at
 * start + k / rate and is sent at the next timer tick, whatever is still in flight, over at most
 * `job.connections` keep-alive connections; one that finds them all busy waits for one, and that
 * wait counts in its latency, measured from the send. Requests that fall due while this process
 * is busy go out late, together, and their delay is not counted. Autocannon's `overallRate` is
 * not a pace: it gives each connection a quota per second, sent back to back at the top of the second.
 */
export async function pacedLoad(job: Extract<LoadJob, { kind: 'http' }> & { rate: number }): Promise<LoadSummary> {
  const client = createHttpClient(job.connections);
  const tally = createTally();
  const tokens = job.bearerTokens;
  const inFlight = new Set<Promise<void>>();
  const send = (k: number) => {
    const token = tokens?.[k % tokens.length];
    const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
    const issued = performance.now();
    const answered = client.send(job.url, 'GET', job.path, headers).then(
      (response) => tally.response(response.status, performance.now() - issued),
      () => tally.error(),
    );
    inFlight.add(answered);
    void answered.finally(() => inFlight.delete(answered));
  };
  const started = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - started;
      const due = Math.floor((Math.min(elapsed, job.ms) * job.rate) / 1000);
      while (sent < due) send(sent++);
      if (elapsed >= job.ms) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(inFlight), new Promise((resolve) => (drainTimer = setTimeout(resolve, DRAIN_MS)))]);
  clearTimeout(drainTimer);
  // Still unanswered: failures of the run, never left out of its counts.
  for (let i = 0; i < inFlight.size; i++) tally.error();
  client.close();
  return tally.summary(job.ms / 1000);
}
