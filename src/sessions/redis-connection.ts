import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Connects to Redis for the session store. Fails fast instead of queueing: no offline queue
 * and no re-sending after a reconnect, with command and connect timeouts, so a Redis outage
 * is a quick 503, never a hang and never a late write. (Even a re-sent rotation would be
 * harmless: it lands as a grace-window replay, see the rotate script.)
 */
export async function connectRedis(url: string, options: { commandTimeoutMs: number; logger: Logger }): Promise<Redis> {
  const redis = createRedis(url, options);
  await redis.connect();
  await warnUnlessNoEviction(redis, options.logger);
  return redis;
}

/** A not yet connected client with the fail-fast options (also used for the revocation subscription). */
export function createRedis(url: string, options: { commandTimeoutMs: number; logger: Logger }): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    // Commands issued in the same tick share one write: fewer syscalls on the hot path.
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
  });
  let lastLogged = 0;
  redis.on('error', (error: Error) => {
    if (Date.now() - lastLogged < 5000) return;
    lastLogged = Date.now();
    options.logger.warn({ err: { message: error.message } }, 'redis connection error');
  });
  return redis;
}

/** DESIGN: Redis should run with `maxmemory-policy noeviction`, or revocation state could be evicted. */
async function warnUnlessNoEviction(redis: Redis, logger: Logger) {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy && policy !== 'noeviction') {
      logger.warn(`redis maxmemory-policy is "${policy}": set it to noeviction, or evicted sessions and denylist entries will log users out unexpectedly`);
    }
  } catch {
    logger.debug('cannot read redis maxmemory-policy (CONFIG disabled)');
  }
}
