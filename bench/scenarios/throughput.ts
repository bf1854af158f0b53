import { measureCeiling } from '../ceilings/run.js';
import type { Server } from '../service.js';
import type { BenchContext } from './context.js';
import { measured, rateSample, type Sample } from './sample.js';

/** a. The bare `node:http` baseline (one slice). */
export function bare(ctx: BenchContext): Promise<Sample> {
  const { worker, bare, plan } = ctx;
  const job = { kind: 'http', url: bare.url, path: '/', connections: plan.connections, ms: plan.sliceMs } as const;
  return measured(bare.pid, () => worker.run(job, plan.sliceMs));
}

/** a′, b, c, d1. `/authenticate` with the pool's live tokens round-robin (the gateway pattern; one slice). */
export function gateway(ctx: BenchContext, server: Server): Promise<Sample> {
  const { worker, plan, tokens } = ctx;
  const job = { kind: 'http', url: server.url, path: '/authenticate', connections: plan.connections, ms: plan.sliceMs, bearerTokens: tokens } as const;
  return measured(server.pid, () => worker.run(job, plan.sliceMs));
}

/** Connections of the paced loads: enough that one is free when a request falls due (see `lateSends`). */
const PACED_CONNECTIONS = 128;

/**
 * a@80%, b@50%, c@80%. The gateway pattern paced at `share` of a's rate (`bareRate`, measured in
 * the same round) by wrk, for `plan.pacedMs`: the p99 "at that load" of b's and c's targets. A
 * closed loop's p99 is set by how many connections it keeps busy (32 over the rate), not by the
 * server; a paced load's is what a gateway sending that rate sees.
 */
export async function atLoad(ctx: BenchContext, server: Server, share: number, bareRate: number): Promise<Sample> {
  const { worker, plan, tokens } = ctx;
  const rate = Math.round(share * bareRate);
  // Sent to the baseline, a's own requests.
  const request = server === ctx.bare ? { path: '/' } : { path: '/authenticate', bearerTokens: tokens };
  const job = { kind: 'http', url: server.url, ...request, connections: PACED_CONNECTIONS, ms: plan.pacedMs, rate, pacer: 'wrk' } as const;
  return { ...(await measured(server.pid, () => worker.run(job, plan.pacedMs))), askedRate: rate };
}

/** Cold tokens signed beyond what the verification ceiling allows in the run's length. */
const COLD_MARGIN = 1.25;

/** d0. EdDSA signature verifications per second with node:crypto alone, on the server's core. */
export async function verifyCeiling(ctx: BenchContext): Promise<Sample> {
  const token = ctx.tokens[0] as string;
  const { perSecond } = await measureCeiling({ kind: 'verify', ms: ctx.plan.ceilingMs, keyFile: ctx.env.keyFile, token });
  return rateSample(perSecond);
}

/**
 * d. `/authenticate` where no token was ever seen: enough are signed beforehand to outlast
 * the run even at the verification ceiling, so the service cannot reach a cache.
 */
export function cold(ctx: BenchContext, server: Server, ceilingPerSecond: number): Promise<Sample> {
  const { worker, plan, signing, poolSessions } = ctx;
  const count = Math.ceil((ceilingPerSecond * plan.coldMs * COLD_MARGIN) / 1000) + plan.connections;
  const sessions = poolSessions.map(({ userId, sessionId, tokenVersion, roles }) => ({ userId, sessionId, tokenVersion, roles }));
  const job = { kind: 'cold', url: server.url, connections: plan.connections, ms: plan.coldMs, count, signing, sessions } as const;
  // Signing happens before the load starts; allow for it in the bound (≈ 50 µs a token).
  return measured(server.pid, async () => {
    const summary = await worker.run(job, plan.coldMs + count / 20);
    if (summary.requests > count) process.stderr.write(`bench: warning: ${server.name} outran the ${count} cold tokens; some were sent twice\n`);
    return summary;
  });
}
