import { createTally } from './autocannon-run.js';
import { createHttpClient } from './http.js';
import type { LoadJob, LoadSummary } from './jobs.js';

/** How often the pacer wakes to send what has come due (Node timers have 1 ms resolution). */
const TICK_MS = 1;
/** After the run, answers still outstanding are awaited this long. */
const DRAIN_MS = 2_000;

/**
 * Open-loop GET load at `job.rate` req/s for `job.ms`: the k-th request (from 1) falls due at
 * start + k / rate and is issued at the next timer tick, whatever is still in flight, over at
 * most `job.connections` keep-alive connections. One issued while all are busy waits here for
 * one, and that wait counts in its latency, measured from the issue; one still waiting when the
 * run ends is never sent, and counts as an error, as does one unanswered after `DRAIN_MS`. Requests that fall due
 * while this process is busy are issued late, together, and their delay is not counted.
 * Autocannon's `overallRate` is not a pace: it gives each connection a quota per second, sent
 * back to back at the top of the second.
 */
export async function pacedLoad(job: Extract<LoadJob, { kind: 'http' }> & { rate: number }): Promise<LoadSummary> {
  const client = createHttpClient(job.connections);
  const tally = createTally();
  const tokens = job.bearerTokens;
  /** Issued while every connection was busy: index and issue time. */
  const waiting: [number, number][] = [];
  let inFlight = 0;
  /** Issued within the run but never sent: failures of the run, never left out of its counts. */
  let unsent = 0;
  let drained: (() => void) | undefined;
  const send = (k: number, issued: number) => {
    inFlight += 1;
    const token = tokens?.[k % tokens.length];
    const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
    client
      .send(job.url, 'GET', job.path, headers)
      .then(
        (response) => tally.response(response.status, performance.now() - issued),
        () => tally.error(),
      )
      .finally(() => {
        inFlight -= 1;
        const next = waiting.shift();
        if (next) send(...next);
        else if (inFlight === 0) drained?.();
      });
  };
  const issue = (k: number) => {
    const now = performance.now();
    if (inFlight < job.connections) send(k, now);
    else waiting.push([k, now]);
  };
  const started = performance.now();
  let issuedCount = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - started;
      const due = Math.floor((Math.min(elapsed, job.ms) * job.rate) / 1000);
      while (issuedCount < due) issue(issuedCount++);
      if (elapsed >= job.ms) {
        clearInterval(timer);
        // The run's time is up: requests still waiting for a connection are never sent.
        unsent = waiting.length;
        waiting.length = 0;
        resolve();
      }
    }, TICK_MS);
  });
  if (inFlight > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, DRAIN_MS);
      drained = () => (clearTimeout(timer), resolve());
    });
  }
  const summary = tally.summary(job.ms / 1000);
  const lost = unsent + inFlight;
  client.close();
  return { ...summary, errors: summary.errors + lost };
}
