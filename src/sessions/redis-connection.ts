import { once } from 'node:events';
import { Cluster, Redis, ReplyError, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { MAX_TIMER } from '../config/fields.js';
import { ConfigError } from '../config/loader.js';
import { readSecretFile } from '../config/secret-file.js';
import type { Config } from '../config/schema.js';
import { UnavailableError } from '../errors.js';
import { createLogThrottle } from '../observability/log-throttle.js';
import type { RedisClient } from './redis-client.js';
import { checkRedisServer } from './redis-server-checks.js';

interface ConnectOptions {
  logger: Logger;
  /**
   * A pub/sub connection whose owner subscribes again on every `ready` itself. ioredis's own
   * re-subscription has no error handler: a connection closing during it is an unhandled rejection.
   */
  subscriber?: boolean;
}

/**
 * Connects to Redis for the session store. Fails fast instead of queueing: no offline queue
 * and no re-sending after a reconnect, with command and connect timeouts, so a Redis outage
 * is a quick 503, never a hang and never a late write. (Even a re-sent rotation would be
 * harmless: it lands as a grace-window replay, see the rotate script.)
 */
export async function connectRedis(cache: Config['cache'], options: ConnectOptions): Promise<RedisClient> {
  const redis = createRedis(cache, options);
  await connectCommandClient(redis);
  await databaseSelected(redis, cache)
    .then(() => checkRedisServer(redis, cache, options.logger))
    .catch(async (error: unknown) => {
      await closeRedis(redis, { hard: true });
      throw error;
    });
  return redis;
}

/**
 * ioredis selects the url's database on each connection, but when Redis refuses it (`/99` on a
 * server with 16) it only emits an error and goes on in database 0: another app's keys, perhaps.
 * Selected again here, a refusal stops the start. @throws {ConfigError}
 */
async function databaseSelected(redis: RedisClient, cache: Config['cache']): Promise<void> {
  const db = redis instanceof Redis && cache.url ? redis.options.db : undefined;
  if (!db) return;
  try {
    await redis.select(db);
  } catch (error) {
    // A reply (ERR DB index is out of range), not a lost connection: the url is at fault.
    if (error instanceof ReplyError) throw new ConfigError(`cache.url: Redis refused database ${db} (${String((error as Error).message).split('\n')[0]})`);
    throw new UnavailableError('session store', error);
  }
}

const CONNECT_TIMEOUT_MS = 2000;
/**
 * Longest wait for a client's first connection to its server. ioredis keeps retrying on its own
 * (a Sentinel client with no sentinel reachable, for ever): past this the start fails with the
 * last error. Once connected, a server still loading its data is waited for as long as it takes.
 */
const FIRST_CONNECTION_MS = 30_000;
/** `socketTimeout` over `command_timeout`. */
const SOCKET_TIMEOUT_FACTOR = 2;

/**
 * Connects a client made by `createRedis`, giving up if no connection is made within
 * `deadlineMs`. Failing, it is closed for good and the error names what stopped it (the last
 * connection error: ECONNREFUSED, ENOTFOUND, WRONGPASS…), not ioredis's bare "Connection is
 * closed.". @throws {UnavailableError}
 */
export async function connectClient(redis: RedisClient, deadlineMs = FIRST_CONNECTION_MS): Promise<void> {
  let last: unknown;
  const remember = (error: unknown) => {
    last = error;
  };
  redis.on('error', remember);
  const connecting = redis.connect();
  // Given up at the deadline, it may still settle later: never an unhandled rejection.
  connecting.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no connection within ${deadlineMs / 1000} s`)), deadlineMs);
  });
  const connected = () => clearTimeout(timer);
  redis.once('connect', connected);
  try {
    await Promise.race([connecting, deadline]);
  } catch (error) {
    await closeRedis(redis, { hard: true });
    throw new UnavailableError('session store', last ?? error);
  } finally {
    clearTimeout(timer);
    redis.off('error', remember);
    redis.off('connect', connected);
  }
}

/**
 * `connectClient` for a client that sends commands: on a Cluster, also waits for every master's
 * connection (`mastersReady`). @throws {UnavailableError}
 */
export async function connectCommandClient(redis: RedisClient): Promise<void> {
  await connectClient(redis, FIRST_CONNECTION_MS);
  if (redis instanceof Cluster) await mastersReady(redis, FIRST_CONNECTION_MS);
}

/**
 * Waits until the connection to every master is ready. Without the offline queue, a Cluster
 * refuses ("Connection is closed.") a command for a node whose connection is still being made,
 * so serving before this would answer the first requests of each slot range with 503s. A master
 * still loading its data is not ready: it is waited for as long as a first connection.
 */
async function mastersReady(cluster: Cluster, timeoutMs: number): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    await Promise.all(cluster.nodes('master').map((node) => (node.status === 'ready' ? undefined : once(node, 'ready', { signal }))));
  } catch (error) {
    cluster.disconnect();
    throw new UnavailableError('session store', new Error(`Redis Cluster: not every master ready within ${timeoutMs / 1000} s`, { cause: error }));
  }
}

/** `host:port` or `[ipv6]:port` (the schema checked it) as ioredis takes it: the host without brackets. */
const hostPort = (node: string): { host: string; port: number } => {
  const at = node.lastIndexOf(':');
  return { host: node.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(node.slice(at + 1)) };
};

/**
 * A not yet connected client with the fail-fast options, for `cache.url`, `cache.sentinel` or
 * `cache.cluster` (also used for the revocation subscription).
 */
export function createRedis(cache: Config['cache'], { logger, subscriber = false }: ConnectOptions): RedisClient {
  const options: RedisOptions = {
    autoResubscribe: !subscriber,
    lazyConnect: true,
    // No auto-pipelining: ioredis sends one pipeline at a time, so commands queued behind a stuck
    // one would start their command_timeout late (measured: 2× the timeout with Redis frozen).
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: cache.command_timeout,
    // A timed-out command stays in the client's queue (its reply must still be matched): with
    // Redis frozen (SIGSTOP, a hung host; the TCP connection stays up), every request would add
    // one until the process ran out of memory. No byte back for twice the command timeout while
    // commands wait (the first of them has failed by then; the others fail with the connection)
    // drops the connection, and its queue with it; until it is made again, commands fail at once.
    socketTimeout: Math.min(SOCKET_TIMEOUT_FACTOR * cache.command_timeout, MAX_TIMER.ms),
    connectTimeout: CONNECT_TIMEOUT_MS,
    // ioredis (6.1) by default heeds a managed Redis's maintenance notices (MIGRATING,
    // FAILING_OVER, MOVING) by stretching both timeouts to 10 s until the maintenance ends:
    // `/authenticate` would hang where it must answer 503 within command_timeout.
    maintNotifications: 'disabled',
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
  };
  // The schema refuses a password_file beside a password in the url, sentinel or cluster.
  const password = cache.password_file ? readSecretFile('cache.password_file', cache.password_file) : undefined;
  if (password !== undefined) options.password = password;
  let redis: RedisClient;
  if (cache.cluster) {
    redis = new Cluster(cache.cluster.nodes.map(hostPort), {
      lazyConnect: true,
      enableOfflineQueue: false,
      // The ready check's CLUSTER INFO goes to a node whose connection is typically still being
      // made, which without the offline queue fails ("Connection is closed."); ioredis then
      // reconnects and the promise of connect() never settles: start-up would hang. A cluster
      // that is not ok answers CLUSTERDOWN, a 503 like any other Redis error.
      enableReadyCheck: false,
      clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 1000),
      redisOptions: { ...options, lazyConnect: false, ...(cache.cluster.password ? { password: cache.cluster.password } : {}) },
    });
  } else if (cache.sentinel) {
    const { name, nodes, password, sentinel_password } = cache.sentinel;
    const sentinelOptions: RedisOptions = {
      ...options,
      name,
      sentinels: nodes.map(hostPort),
      // Follow a failover as soon as the sentinels announce it (+switch-master). Otherwise this
      // connection stays on the old master until the sentinels demote it, which for a live old
      // master takes ~10 s; every write there meanwhile is lost when it resyncs as a replica
      // (measured: rotations lost, so the next refresh looked like reuse and ended the session).
      failoverDetector: true,
    };
    if (password) sentinelOptions.password = password;
    if (sentinel_password) sentinelOptions.sentinelPassword = sentinel_password;
    redis = new Redis(sentinelOptions);
  } else if (cache.url) {
    redis = new Redis(password === undefined ? cache.url : withPassword(cache.url, password), options);
  } else {
    throw new Error('createRedis needs cache.url, cache.sentinel or cache.cluster');
  }
  if (redis instanceof Redis) reconnectAfterEnd(redis, logger);
  const throttle = createLogThrottle(5_000);
  // The message only (not `err`, whose serializer wants an Error and adds its stack): one line every 5 s at most.
  redis.on('error', (error: Error) => throttle((suppressed) => logger.warn({ reason: error.message, suppressed }, 'redis connection error')));
  return redis;
}

/**
 * `url` with `password` in it. ioredis reads a url's user name without a password as the password
 * "", which would win over `options.password`.
 */
function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

/** Clients closed on purpose (`closeRedis`): they stay closed. */
const closedOnPurpose = new WeakSet<RedisClient>();

/** How long a client that ioredis gave up on waits before it connects again. */
const RECONNECT_AFTER_END_MS = 500;

/** Closes `redis` for good: QUIT (a hard disconnect if that fails, or with `hard`); no reconnection follows. */
export async function closeRedis(redis: RedisClient, { hard = false }: { hard?: boolean } = {}): Promise<void> {
  closedOnPurpose.add(redis);
  if (hard) redis.disconnect();
  else await redis.quit().catch(() => redis.disconnect());
}

/**
 * ioredis stops reconnecting for good (status `end`) when a connection attempt is cut short by a
 * disconnect. Its Sentinel failover detector does that when `+switch-master` arrives while the
 * client is reconnecting after its master died — the likely cause of one CI run in which both
 * instances answered 503 from a master's death until the test gave up 15 s later. Unless it was
 * closed on purpose, such a client starts over.
 */
function reconnectAfterEnd(redis: Redis, logger: Logger) {
  redis.on('end', () => {
    if (closedOnPurpose.has(redis)) return;
    setTimeout(() => {
      if (redis.status !== 'end' || closedOnPurpose.has(redis)) return;
      logger.warn('redis client had stopped reconnecting: connecting again');
      redis.connect().catch(() => {});
    }, RECONNECT_AFTER_END_MS).unref();
  });
}
