import { accounts, login, mapLimit, refresh, register, type Session } from '../fixtures.js';
import type { RevocationItem } from '../load/jobs.js';
import { type Server, startService } from '../service.js';
import type { BenchContext } from './context.js';

const INSTANCES = 3;
/** A watcher still accepting a revoked token after this long counts as a failure. */
const TIMEOUT_MS = 2_000;

export interface PropagationResult {
  instances: number;
  revocations: number;
  latenciesMs: number[];
  timedOut: number;
  acceptedAfterResponse: number;
  notLive: number;
}

/**
 * Revocation items in equal thirds: logout (session ended, jti denied), logout-all (token
 * version bumped, for users of their own) and RFC 7009 revoke of an access token (jti denied).
 * Sessions are made on every instance in parallel, since each costs an argon2 hash.
 */
async function makeItems(ctx: BenchContext, servers: Server[], count: number): Promise<RevocationItem[]> {
  const third = Math.ceil(count / 3);
  const urlFor = (i: number) => servers[i % servers.length]!.url;
  const [logouts, logoutAlls] = await Promise.all([
    mapLimit(Array.from({ length: third }, (_, i) => ctx.poolAccounts[i % ctx.poolAccounts.length]!), servers.length, (account, i) =>
      login(urlFor(i), account),
    ),
    mapLimit(accounts('revoke-all', third), servers.length, (account, i) => register(urlFor(i + 1), account)),
  ]);
  // Revoking single access tokens needs no new session: refreshing one gives a fresh token each time.
  let chain: Session = ctx.poolSessions.at(-1)!;
  const revokes: Session[] = [];
  for (let i = 0; i < third; i++) {
    chain = await refresh(servers[0]!.url, chain.refreshToken);
    revokes.push(chain);
  }
  const items: RevocationItem[] = [];
  for (let i = 0; i < third; i++) {
    items.push({ kind: 'logout', accessToken: logouts[i]!.accessToken });
    items.push({ kind: 'logout-all', accessToken: logoutAlls[i]!.accessToken });
    items.push({ kind: 'revoke', accessToken: revokes[i]!.accessToken });
  }
  return items.slice(0, count);
}

/**
 * g. Three unpinned `cached`-mode instances on the shared Redis: revoke on one, poll the
 * other two until both reject. Latency per revocation is the slower watcher's.
 */
export async function revocationPropagation(ctx: BenchContext): Promise<PropagationResult> {
  const { plan, worker, env } = ctx;
  const servers: Server[] = [];
  try {
    servers.push(...(await Promise.all(Array.from({ length: INSTANCES }, (_, i) => startService(env, `propagation-${i + 1}`, 'cached')))));
    const items = await makeItems(ctx, servers, plan.revocations);
    // Every instance revokes every kind in turn (items cycle through the kinds) and watches the others.
    const revokerOf = (i: number) => (i + Math.floor(i / servers.length)) % servers.length;
    const byRevoker = servers.map((_, r) => items.filter((_, i) => revokerOf(i) === r));
    const results = [];
    for (const [r, revokerItems] of byRevoker.entries()) {
      const watchers = servers.filter((_, w) => w !== r).map((s) => s.url);
      const job = { kind: 'propagation', revoker: servers[r]!.url, watchers, timeoutMs: TIMEOUT_MS, items: revokerItems } as const;
      results.push(await worker.run(job, revokerItems.length * (TIMEOUT_MS + 1_000)));
    }
    return {
      instances: INSTANCES,
      revocations: items.length,
      latenciesMs: results.flatMap((r) => r.latenciesMs),
      timedOut: results.reduce((sum, r) => sum + r.timedOut, 0),
      acceptedAfterResponse: results.reduce((sum, r) => sum + r.acceptedAfterResponse, 0),
      notLive: results.reduce((sum, r) => sum + r.notLive, 0),
    };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}
