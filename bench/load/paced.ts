import { createTally } from './autocannon-run.js';
import { createHttpClient } from './http.js';
import type { LoadJob, LoadSummary } from './jobs.js';

/** How often the pacer wakes to send what has come due (Node timers have 1 ms resolution). */
const TICK_MS = 1;
/** After the run, answers still outstanding are awaited this long, then abandoned. */
const DRAIN_MS = 2_000;

/**
 * Open-loop GET load at `job.rate` req/s: request k is due at start + k / rate and is sent when
 * it comes due (within a timer tick), whatever is still in flight, over at most
 * `job.connections` keep-alive connections; one that finds them all busy waits for one, and
 * that wait counts in its latency. Autocannon's `overallRate` is not a pace: it gives each
 * connection a quota per second, which it sends back to back at the top of each second.
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
  await Promise.race([Promise.allSettled(inFlight), new Promise((resolve) => setTimeout(resolve, DRAIN_MS))]);
  const seconds = (performance.now() - started) / 1000;
  client.close();
  return tally.summary(seconds);
}
