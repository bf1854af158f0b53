import { measureCeiling } from '../ceilings/run.js';
import { cpuMicros, SETTLE_TIMEOUT_MS, settled } from '../machine.js';
import type { BenchContext } from './context.js';
import { fromSummary, measured, rateSample, type Sample } from './sample.js';

const CONCURRENT_LOGINS = 200;
/** The light gateway load that runs through the storm. */
const AUTH = { connections: 4, rate: 1_000 };

/** e0. argon2id verifies per second with the service's parameters and its default concurrency on one core. */
export async function argon2Ceiling(ctx: BenchContext): Promise<Sample & { concurrency: number }> {
  const { perSecond, concurrency } = await measureCeiling({ kind: 'argon2', ms: ctx.plan.argon2Ms });
  return { ...rateSample(perSecond), concurrency };
}

/**
 * e′0. The storm's paced `/authenticate` load sent to the bare baseline with no storm: the p99
 * the load generator and this machine show with no server work at all, e′'s floor. 30% of the
 * storm's length (3,000 requests in a full run) is plenty for a p99 and keeps the bench short.
 */
export function pacedFloor(ctx: BenchContext): Promise<Sample> {
  const { worker, plan, bare, tokens } = ctx;
  const ms = plan.stormMs * 0.3;
  const job = { kind: 'http', url: bare.url, path: '/authenticate', ms, ...AUTH, bearerTokens: tokens } as const;
  return measured(bare.pid, () => worker.run(job, ms));
}

/**
 * e. 200 clients log in for the storm's length (`ms`, the plan's by default) while
 * `/authenticate` runs at a light, paced rate. Returns once the server has worked off the
 * argon2 operations still queued when the storm ended.
 */
export async function loginStorm(ctx: BenchContext, ms = ctx.plan.stormMs): Promise<{ logins: Sample; auth: Sample }> {
  const { worker, exact, stormAccounts, tokens } = ctx;
  const job = {
    kind: 'storm',
    url: exact.url,
    ms,
    concurrency: CONCURRENT_LOGINS,
    accounts: stormAccounts,
    auth: { ...AUTH, bearerTokens: tokens },
  } as const;
  const before = cpuMicros(exact.pid);
  const result = await worker.run(job, ms);
  const after = cpuMicros(exact.pid);
  if (!(await settled(exact.pid))) {
    process.stderr.write(`bench: warning: the service was still busy ${SETTLE_TIMEOUT_MS / 1000} s after the storm; the next ceiling shares its core\n`);
  }
  const cpu = before !== undefined && after !== undefined ? after - before : undefined;
  const requests = result.logins.requests + result.auth.requests;
  const logins = fromSummary(result.logins);
  return {
    // Login storm CPU is shared with the paced /authenticate load; it is charged to all responses.
    logins: { ...logins, cpuUsPerRequest: cpu !== undefined && requests > 0 ? cpu / requests : undefined },
    auth: fromSummary(result.auth),
  };
}
