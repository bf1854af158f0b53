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
 * the load generator and this machine show with no server work at all, e′'s floor. 20% of the
 * storm's length (2,000 requests in a full run, 20 beyond the p99) keeps the bench short.
 */
export function pacedFloor(ctx: BenchContext): Promise<Sample> {
  const { worker, plan, bare, tokens } = ctx;
  const ms = plan.stormMs * 0.2;
  const job = { kind: 'http', url: bare.url, path: '/authenticate', ms, ...AUTH, bearerTokens: tokens } as const;
  return measured(bare.pid, () => worker.run(job, ms));
}

/**
 * 200 clients log in on the service for `ms`. e′'s paced `/authenticate` load runs alongside on
 * the service itself, on the bare baseline (same core), or not at all (`gateway`). Returns once
 * the server has worked off the argon2 operations still queued when the storm ended.
 */
async function storm(ctx: BenchContext, ms: number, gateway: 'none'): Promise<{ logins: Sample }>;
async function storm(ctx: BenchContext, ms: number, gateway: 'service' | 'bare'): Promise<{ logins: Sample; auth: Sample }>;
async function storm(ctx: BenchContext, ms: number, gateway: 'service' | 'bare' | 'none'): Promise<{ logins: Sample; auth?: Sample }> {
  const { worker, exact, bare, stormAccounts, tokens } = ctx;
  const authUrl = { service: exact.url, bare: bare.url, none: undefined }[gateway];
  const job = {
    kind: 'storm',
    url: exact.url,
    ms,
    concurrency: CONCURRENT_LOGINS,
    accounts: stormAccounts,
    ...(authUrl ? { auth: { ...AUTH, url: authUrl, bearerTokens: tokens } } : {}),
  } as const;
  const before = cpuMicros(exact.pid);
  const result = await worker.run(job, ms);
  const after = cpuMicros(exact.pid);
  if (!(await settled(exact.pid))) {
    process.stderr.write(`bench: warning: the service was still busy ${SETTLE_TIMEOUT_MS / 1000} s after the storm; the next ceiling shares its core\n`);
  }
  if (authUrl && !result.auth) throw new Error(`the storm ran without its paced load on ${gateway}`);
  const cpu = before !== undefined && after !== undefined ? after - before : undefined;
  const requests = result.logins.requests + (gateway === 'service' ? (result.auth?.requests ?? 0) : 0);
  const logins = fromSummary(result.logins);
  return {
    // Login storm CPU is shared with the paced /authenticate load on the service, if any; it is charged to all responses.
    logins: { ...logins, cpuUsPerRequest: cpu !== undefined && requests > 0 ? cpu / requests : undefined },
    auth: result.auth && fromSummary(result.auth),
  };
}

/** e and e′. The storm (`ms`, the plan's by default) while `/authenticate` runs at a light, paced rate. */
export function loginStorm(ctx: BenchContext, ms = ctx.plan.stormMs): Promise<{ logins: Sample; auth: Sample }> {
  return storm(ctx, ms, 'service');
}

/** The shorter storms of e1, e2 and e′1: 40% of e's, to keep the bench under 5 minutes. */
const SHORT_STORM = 0.4;

/**
 * e1. The storm with no gateway load: what the login path reaches alone. Set against e, it shows
 * what e′'s 1,000 paced requests a second take from the logins. Logins still running when a storm
 * ends are not counted, which weighs a little more in a shorter storm: e1 (and e2) err low.
 */
export async function loginsAlone(ctx: BenchContext): Promise<Sample> {
  return (await storm(ctx, ctx.plan.stormMs * SHORT_STORM, 'none')).logins;
}

/**
 * e2 and e′1, the bounds of e and e′. The storm on the service while e′'s paced load goes to the
 * bare baseline on the same core: the logins the service reaches beside a gateway load that costs
 * only what waking a server costs (e2; a short storm, so it errs low as e1 does), and the p99 a
 * server with no logic at all shows while a login storm shares its core (e′1).
 */
export function stormBeside(ctx: BenchContext): Promise<{ logins: Sample; auth: Sample }> {
  return storm(ctx, ctx.plan.stormMs * SHORT_STORM, 'bare');
}
