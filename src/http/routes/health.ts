import { Hono } from 'hono';
import type { AppDeps } from '../../app-deps.js';
import { nextRun } from '../../util/next-run.js';
import type { AppEnv } from '../app-env.js';

async function check(probe: () => Promise<void>): Promise<'ok' | 'down'> {
  try {
    await probe();
    return 'ok';
  } catch {
    return 'down';
  }
}

/**
 * `/ping` (liveness, no dependencies) and `/health/ready` (Redis and PostgreSQL reachable, not
 * draining). Readiness needs no login: requests arriving together share one probe of each store
 * (one started after they came, so never a stale answer), so a flood of them costs PostgreSQL
 * and Redis one query at a time, not one each.
 */
export function healthRoutes(deps: AppDeps) {
  const probe = nextRun<object>();
  const [cacheProbe, databaseProbe] = [{}, {}];
  return new Hono<AppEnv>()
    .get('/ping', (c) => c.json({ status: 'ok' }))
    .get('/health/ready', async (c) => {
      const [cache, database] = await Promise.all([
        check(() => probe(cacheProbe, () => deps.sessions.ping())),
        check(() => probe(databaseProbe, () => deps.users.ping())),
      ]);
      const ready = !deps.lifecycle.draining && cache === 'ok' && database === 'ok';
      if (!ready) c.header('Retry-After', '1');
      return c.json(
        { status: ready ? 'ok' : deps.lifecycle.draining ? 'draining' : 'unavailable', checks: { cache, database } },
        ready ? 200 : 503,
      );
    });
}
