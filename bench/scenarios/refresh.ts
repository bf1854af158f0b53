import { measureCeiling } from '../ceilings/run.js';
import { login, mapLimit } from '../fixtures.js';
import type { Server } from '../service.js';
import type { BenchContext } from './context.js';
import { measured, rateSample, type Sample } from './sample.js';

const CONNECTIONS = 10;
/** Spare chains, so a refresh token lost to an error does not leave a connection without one. */
const SESSIONS = CONNECTIONS + 4;

/** f0. Access tokens signed per second by the service's own signer alone, on the server's core. */
export async function signCeiling(ctx: BenchContext): Promise<Sample> {
  const { userId, sessionId, tokenVersion, roles } = ctx.poolSessions[0]!;
  const { perSecond } = await measureCeiling({
    kind: 'sign',
    ms: ctx.plan.ceilingMs,
    ...ctx.signing,
    claims: { userId, sessionId, tokenVersion, roles },
  });
  return rateSample(perSecond);
}

/**
 * f. `/refresh` on fresh sessions (logged in just before, untimed), each chain rotating its own
 * token. f1: the same requests sent to `bound` (`sign` in bare-server.ts), for a slice's length.
 */
export async function refreshRate(ctx: BenchContext, bound?: Server): Promise<Sample> {
  const { worker, plan, exact, poolAccounts } = ctx;
  const sessions = await mapLimit(Array.from({ length: SESSIONS }, (_, i) => poolAccounts[i % poolAccounts.length]!), 4, (account) =>
    login(exact.url, account),
  );
  const server = bound ?? exact;
  const ms = bound ? plan.sliceMs : plan.loadMs;
  const job = { kind: 'refresh', url: server.url, connections: CONNECTIONS, ms, refreshTokens: sessions.map((s) => s.refreshToken) } as const;
  return measured(server.pid, () => worker.run(job, ms));
}
