import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type autocannon from 'autocannon';
import { benchSigner } from '../signer.js';
import { runAutocannon } from './autocannon-run.js';
import type { ColdSummary, LoadJob, LoadSummary } from './jobs.js';
import { pacedLoad } from './paced.js';
import { hasWrk, runWrk } from './wrk.js';

type Job<K extends LoadJob['kind']> = Extract<LoadJob, { kind: K }>;

/** Runs wrk with `tokens` in a file of its own, removed afterwards. */
async function wrkWithTokens(url: string, connections: number, ms: number, tokens: readonly string[] | undefined, rate?: number): Promise<LoadSummary> {
  if (!tokens) return runWrk(url, connections, ms, undefined, rate);
  const dir = mkdtempSync(join(tmpdir(), 'jwt-bench-tokens-'));
  try {
    const file = join(dir, 'tokens.txt');
    writeFileSync(file, `${tokens.join('\n')}\n`);
    return await runWrk(url, connections, ms, file, rate);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Closed-loop GET load, by wrk when installed (see `hasWrk`), else autocannon (bearer tokens
 * prebuilt into one request each, so the generator does no work per request); paced loads
 * (`rate`) by `pacedLoad`, or by wrk if the job asks for it and it is installed.
 */
export function httpLoad(job: Job<'http'>): Promise<LoadSummary> {
  if (job.rate && job.pacer === 'wrk' && hasWrk()) return wrkWithTokens(`${job.url}${job.path}`, job.connections, job.ms, job.bearerTokens, job.rate);
  if (job.rate) return pacedLoad({ ...job, rate: job.rate });
  if (hasWrk()) return wrkWithTokens(`${job.url}${job.path}`, job.connections, job.ms, job.bearerTokens);
  const requests: autocannon.Request[] | undefined = job.bearerTokens?.map((token) => ({
    method: 'GET',
    path: job.path,
    headers: { authorization: `Bearer ${token}` },
  }));
  return runAutocannon({ url: `${job.url}${job.path}`, connections: job.connections, requests }, job.ms);
}

/** Signs `job.count` fresh tokens for live sessions, then sends each once (the count outlasts the run). */
export async function coldLoad(job: Job<'cold'>): Promise<ColdSummary> {
  const { signing } = job;
  const signStarted = performance.now();
  const tokens = await benchSigner(signing);
  const signed = Array.from({ length: job.count }, (_, i) => {
    const session = job.sessions[i % job.sessions.length];
    if (!session) throw new Error('cold load needs at least one session');
    return tokens.sign(session).token;
  });
  const signSeconds = (performance.now() - signStarted) / 1000;
  const url = `${job.url}/authenticate`;
  if (hasWrk()) return { ...(await wrkWithTokens(url, job.connections, job.ms, signed)), signSeconds };
  let next = 0;
  const request: autocannon.Request = {
    method: 'GET',
    path: '/authenticate',
    setupRequest: (req) => {
      req.headers = { authorization: `Bearer ${signed[next++ % signed.length] as string}` };
      return req;
    },
  };
  const options: autocannon.Options = { url, connections: job.connections, requests: [request], amount: job.count };
  return { ...(await runAutocannon(options, job.ms)), signSeconds };
}

/** `/refresh` chains: a request takes a free refresh token, its response puts the successor back. */
export function refreshLoad(job: Job<'refresh'>): Promise<LoadSummary> {
  const free = [...job.refreshTokens];
  const spent = [...job.refreshTokens];
  const request: autocannon.Request = {
    method: 'POST',
    path: '/refresh',
    headers: { 'content-type': 'application/json' },
    setupRequest: (req) => {
      // An empty pool (chains lost to errors) reuses a spent token: the 401 shows in the counts.
      const token = free.pop() ?? spent[0];
      req.body = `{"refresh_token":"${token}"}`;
      return req;
    },
    onResponse: (status, body) => {
      if (status === 200) free.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
    },
  };
  const options: autocannon.Options = { url: `${job.url}/refresh`, connections: job.connections, requests: [request] };
  return runAutocannon(options, job.ms);
}
