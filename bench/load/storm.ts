import { setTimeout as sleep } from 'node:timers/promises';
import { createTally } from './autocannon-run.js';
import { createHttpClient } from './http.js';
import type { LoadJob, StormSummary } from './jobs.js';
import { httpLoad } from './throughput.js';

/**
 * `concurrency` clients each log in again as soon as the previous login answered; a 503
 * sends a client to sleep for `Retry-After` as a well-behaved client would. Meanwhile a
 * paced `/authenticate` load (`job.auth`) measures what the storm does to the gateway path.
 */
export async function loginStorm(job: Extract<LoadJob, { kind: 'storm' }>): Promise<StormSummary> {
  const client = createHttpClient(job.concurrency);
  const tally = createTally();
  const started = performance.now();
  const deadline = started + job.ms;
  const headers = { 'content-type': 'application/json' };
  const loginClient = async (index: number) => {
    for (let i = index; performance.now() < deadline; i += job.concurrency) {
      const account = job.accounts[i % job.accounts.length];
      const sent = performance.now();
      try {
        const response = await client.send(job.url, 'POST', '/login', headers, JSON.stringify(account));
        // Answers after the deadline are not counted: the rate is over the storm's length.
        if (performance.now() > deadline) return;
        tally.response(response.status, performance.now() - sent);
        if (response.status === 503) await sleep(Math.min((response.retryAfter ?? 1) * 1000, deadline - performance.now()));
      } catch {
        tally.error();
      }
    }
  };
  const auth = job.auth && httpLoad({ kind: 'http', path: '/authenticate', ms: job.ms, ...job.auth });
  const logins = Promise.all(Array.from({ length: job.concurrency }, (_, i) => loginClient(i)));
  // A client still waiting at the deadline is abandoned; the socket closes with the agent.
  await Promise.race([logins, sleep(job.ms + 100)]);
  const loginSummary = tally.summary((performance.now() - started) / 1000);
  client.close();
  return { logins: loginSummary, auth: await auth };
}
