import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { LoadSummary } from './jobs.js';

const WRK = '/usr/bin/wrk';
const SCRIPT = fileURLToPath(new URL('wrk.lua', import.meta.url));
const run = promisify(execFile);

/**
 * Whether wrk is installed. It is preferred for closed-loop throughput: in C it spends a few
 * µs per request where autocannon spends tens, so on one client core it can outrun a bare
 * node:http server, which autocannon cannot.
 */
export const hasWrk = () => existsSync(WRK);

interface WrkSummary {
  requests: number;
  duration_us: number;
  non2xx: number;
  socket_errors: number;
  p50_us: number;
  p99_us: number;
  max_us: number;
  late: number;
  p99_late_us: number;
}

/**
 * One thread, `connections` keep-alive connections, for `ms`; bearer tokens from `tokenFile` (one
 * a line), round-robin. Closed-loop, or paced at `rate` req/s (see wrk.lua).
 */
export async function runWrk(url: string, connections: number, ms: number, tokenFile?: string, rate?: number): Promise<LoadSummary> {
  const args = ['-t1', `-c${connections}`, `-d${Math.max(1, Math.round(ms / 1000))}s`, '--timeout', '10s', '-s', SCRIPT, url];
  if (tokenFile) args.push('--', tokenFile);
  const env = { ...process.env, BENCH_RATE: rate === undefined ? '' : String(rate) };
  const { stdout } = await run(WRK, args, { env, timeout: ms + 30_000, killSignal: 'SIGKILL', maxBuffer: 1 << 20 });
  const line = stdout.split('\n').find((text) => text.startsWith('{"requests"'));
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`);
  const summary = JSON.parse(line) as WrkSummary;
  const ok = summary.requests - summary.non2xx;
  return {
    requests: summary.requests,
    ok,
    statuses: { '2xx/3xx': ok, other: summary.non2xx },
    errors: summary.socket_errors,
    seconds: summary.duration_us / 1e6,
    latency: { p50: summary.p50_us / 1000, p99: summary.p99_us / 1000, max: summary.max_us / 1000 },
    ...(rate === undefined ? {} : { lateSends: summary.late, p99CountingLate: summary.p99_late_us < 0 ? undefined : summary.p99_late_us / 1000 }),
  };
}
