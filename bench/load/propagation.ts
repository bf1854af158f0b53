import { createHttpClient, type HttpClient } from './http.js';
import type { LoadJob, PropagationSummary, RevocationItem } from './jobs.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function status(client: HttpClient, url: string, token: string): Promise<number> {
  return (await client.send(url, 'GET', '/authenticate', bearer(token))).status;
}

async function revoke(client: HttpClient, url: string, item: RevocationItem): Promise<void> {
  const json = { 'content-type': 'application/json' };
  const response =
    item.kind === 'revoke'
      ? await client.send(url, 'POST', '/revoke', json, JSON.stringify({ token: item.accessToken, token_type_hint: 'access_token' }))
      : await client.send(url, 'POST', item.kind === 'logout' ? '/logout' : '/logout-all', bearer(item.accessToken));
  if (response.status >= 300) throw new Error(`${item.kind}: ${response.status} ${response.body.slice(0, 200)}`);
}

interface Rejection {
  /** ms since `since`, or undefined if still not refused (401) at the deadline. */
  ms: number | undefined;
  /** The first check, sent after the revoking response arrived, still answered 200. */
  acceptedFirst: boolean;
}

/** Polls `url` back to back until it rejects `token`. */
async function rejectedAfter(client: HttpClient, url: string, token: string, since: number, deadline: number): Promise<Rejection> {
  let first: number | undefined;
  while (performance.now() < deadline) {
    const code = await status(client, url, token);
    first ??= code;
    if (code === 401) return { ms: performance.now() - since, acceptedFirst: first === 200 };
  }
  return { ms: undefined, acceptedFirst: first === 200 };
}

/**
 * Reads before the revocation: `cached` mode remembers a token's answer from its second read on,
 * so the second fills every instance's cache and the watchers' polls start from a cached answer.
 */
const READS_BEFORE = 2;

/**
 * For each item: the token must be accepted by every instance, `READS_BEFORE` times, then it is
 * revoked on `revoker` and every watcher is polled until it answers 401. The clock starts when
 * the revoking response arrives.
 */
export async function propagation(job: Extract<LoadJob, { kind: 'propagation' }>): Promise<PropagationSummary> {
  const client = createHttpClient(job.watchers.length + 1);
  const summary: PropagationSummary = { latenciesMs: [], timedOut: 0, acceptedAfterResponse: 0, notLive: 0 };
  try {
    for (const item of job.items) {
      const before: number[] = [];
      for (let read = 0; read < READS_BEFORE; read++) {
        before.push(...(await Promise.all([job.revoker, ...job.watchers].map((url) => status(client, url, item.accessToken)))));
      }
      if (before.some((code) => code !== 200)) {
        summary.notLive += 1;
        continue;
      }
      await revoke(client, job.revoker, item);
      const since = performance.now();
      const deadline = since + job.timeoutMs;
      const rejections = await Promise.all(job.watchers.map((url) => rejectedAfter(client, url, item.accessToken, since, deadline)));
      if (rejections.some((r) => r.acceptedFirst)) summary.acceptedAfterResponse += 1;
      const times = rejections.map((r) => r.ms);
      if (times.some((ms) => ms === undefined)) summary.timedOut += 1;
      else summary.latenciesMs.push(Math.max(...(times as number[])));
    }
  } finally {
    client.close();
  }
  return summary;
}
