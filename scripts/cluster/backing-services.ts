import { type CleanupStack, settleAll, tempDir } from './cleanup.js';
import { startPostgres } from './postgres.js';
import { startRedis } from './redis.js';

/** Where the service keeps its state. */
export interface BackingServices {
  redisUrl: string;
  databaseUrl: string;
}

async function throwawayRedis(cleanup: CleanupStack): Promise<string> {
  const redis = await startRedis(tempDir(cleanup, 'jwt-cluster-redis-'));
  cleanup.add(() => redis.stop());
  return redis.url;
}

async function throwawayPostgres(cleanup: CleanupStack): Promise<string> {
  // As root the server runs as another user, who must reach the dir; $TMPDIR may be private to root.
  const postgres = await startPostgres(tempDir(cleanup, 'jwt-cluster-pg-', '/tmp'));
  cleanup.add(() => postgres.stop());
  return postgres.url;
}

/**
 * Starts, side by side, a throwaway Redis and PostgreSQL for each URL not given, each with its
 * files in its own temp dir. `cleanup` stops them and removes the dirs; it is complete even when
 * this rejects, which happens only once both have settled, so nothing is left starting.
 */
export async function startBackingServices(given: Partial<BackingServices>, cleanup: CleanupStack): Promise<BackingServices> {
  const [redisUrl = '', databaseUrl = ''] = await settleAll([
    given.redisUrl ?? throwawayRedis(cleanup),
    given.databaseUrl ?? throwawayPostgres(cleanup),
  ]);
  return { redisUrl, databaseUrl };
}
