import { Hono } from 'hono';
import type { AppDeps } from '../../app-deps.js';
import type { AppEnv } from '../app-env.js';

async function check(probe: () => Promise<void>): Promise<'ok' | 'down'> {
  try {
    await probe();
    return 'ok';
  } catch {
    return 'down';
  }
}

/** `/ping` (liveness, no dependencies) and `/health/ready` (Redis and PostgreSQL reachable, not draining). */
export function healthRoutes(deps: AppDeps) {
  return new Hono<AppEnv>()
    .get('/ping', (c) => c.json({ status: 'ok' }))
    .get('/health/ready', async (c) => {
      const [cache, database] = await Promise.all([check(() => deps.sessions.ping()), check(() => deps.users.ping())]);
      const ready = !deps.lifecycle.draining && cache === 'ok' && database === 'ok';
      if (!ready) c.header('Retry-After', '1');
      return c.json(
        { status: ready ? 'ok' : deps.lifecycle.draining ? 'draining' : 'unavailable', checks: { cache, database } },
        ready ? 200 : 503,
      );
    });
}
