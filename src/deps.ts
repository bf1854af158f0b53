import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { AdminDeps } from './admin/users.js';
import type { AppDeps } from './app-deps.js';
import { createEndRetries } from './auth/end-retries.js';
import { lateWritesSettled } from './auth/late-writes.js';
import { type AuditLog, createAuditLog, disabledAuditLog } from './audit/audit-log.js';
import type { AuditEventsSink } from './audit/drizzle-audit-store.js';
import { withRetention } from './audit/retention.js';
import { ConfigError } from './config/loader.js';
import { type Config, MIN_REFRESH_SECRET_BYTES, revocationReplicas } from './config/schema.js';
import { readSecretFile } from './config/secret-file.js';
import { createLogThrottle } from './observability/log-throttle.js';
import { createMetrics } from './observability/metrics.js';
import { loadCommonPasswords } from './passwords/common-passwords.js';
import { createPasswordHasher, defaultHashConcurrency } from './passwords/hasher.js';
import { createMemorySessionStore } from './sessions/memory-session-store.js';
import { createCachedRevocationStore } from './sessions/cached-revocation-store.js';
import { createMemoryRateLimiter } from './security/memory-rate-limiter.js';
import { createDeviceTokens } from './security/device-token.js';
import { createRateLimits } from './security/rate-limits.js';
import { createRedisRateLimiter } from './security/redis-rate-limiter.js';
import { closeRedis, connectClient, connectCommandClient, connectRedis, createRedis } from './sessions/redis-connection.js';
import type { RedisClient } from './sessions/redis-client.js';
import { redisKeys } from './sessions/redis-keys.js';
import { createRedisSessionStore } from './sessions/redis-session-store.js';
import type { SessionPolicy, SessionStore } from './sessions/session-store.js';
import { createAccessTokens } from './tokens/access-token.js';
import { devSecret } from './tokens/dev-secrets.js';
import { generateKeyMaterial } from './tokens/generate-key.js';
import { createKeyRing, KeyError, type KeyRing } from './tokens/key-ring.js';
import { createRefreshTokenCodec } from './tokens/refresh-token.js';
import { createBoundedCache } from './util/bounded-cache.js';
import { migratePostgres } from './users/migrate.js';
import { createPgliteUserStore } from './users/pglite-user-store.js';
import { createPostgresUserStore } from './users/postgres-user-store.js';
import type { UserStore } from './users/user-store.js';

/** Session salts one instance remembers (a few hundred bytes each, so at most some tens of MiB). */
const SESSION_SALTS_REMEMBERED = 100_000;

/** Whether this instance runs on the embedded, single-instance default (no shared session store). */
export const isEmbedded = ({ cache }: Config) => !cache.url && !cache.sentinel && !cache.cluster;

/** This replica's name in `X-Instance-Id` and in its logs: `server.instance_id`, else `host:pid`. */
export const instanceIdOf = (server: Config['server']) => server.instance_id ?? `${hostname()}:${process.pid}`;

async function buildKeyRing(config: Config, logger: Logger): Promise<KeyRing> {
  const { algorithm, keys } = config.auth;
  if (keys.length > 0) return createKeyRing(algorithm, keys);
  if (!isEmbedded(config)) throw new KeyError('auth.keys: required with a shared Redis (every instance must share the signing keys)');
  const dev = devSecret(config.database.data_dir, `dev-signing-key.${algorithm}`, () => generateKeyMaterial(algorithm).privateKey);
  logger.warn(
    `DEVELOPMENT SIGNING KEY ${dev.created ? 'generated' : 'loaded'} at ${config.database.data_dir}/dev-signing-key.${algorithm}: configure auth.keys for anything real`,
  );
  return createKeyRing(algorithm, [{ kid: 'dev', value: dev.value, sign: true, file: undefined }]);
}

function refreshSecret(config: Config, logger: Logger): KeyObject {
  const { refresh_secret_file: file } = config.auth;
  // auth.refresh_secret's length was checked with the config (naming REFRESH_SECRET when it came from there).
  let secret = file ? readSecretFile('auth.refresh_secret_file', file) : config.auth.refresh_secret;
  let source = file ? 'auth.refresh_secret_file' : 'auth.refresh_secret';
  if (secret === undefined) {
    if (!isEmbedded(config)) throw new KeyError('auth.refresh_secret: required with a shared Redis (set REFRESH_SECRET or refresh_secret_file, at least 32 bytes)');
    secret = devSecret(config.database.data_dir, 'dev-refresh-secret', () => randomBytes(48).toString('base64url')).value;
    source = `${config.database.data_dir}/dev-refresh-secret (delete it to have a new one made)`;
    logger.warn('DEVELOPMENT REFRESH SECRET in use: set auth.refresh_secret (REFRESH_SECRET) for anything real');
  }
  // An example's placeholder is public: every refresh and device token would be forgeable.
  if (/REPLACE_ME/i.test(secret)) throw new KeyError(`${source}: is still an example's placeholder (REPLACE_ME): make one with openssl rand -base64 48`);
  if (Buffer.byteLength(secret) < MIN_REFRESH_SECRET_BYTES) throw new KeyError(`${source}: needs at least ${MIN_REFRESH_SECRET_BYTES} bytes`);
  return createSecretKey(Buffer.from(secret));
}

/** Redis answers WAIT before the client's own command timeout would fire. */
const waitMs = (config: Config) => Math.max(1, Math.floor(config.cache.command_timeout / 2));

/** The connection revocations run on when replicas must acknowledge them (see ReplicatedRevocations). */
async function connectRevocations(config: Config, logger: Logger, main: RedisClient): Promise<RedisClient> {
  const revocations = createRedis(config.cache, { logger });
  try {
    await connectCommandClient(revocations);
    return revocations;
  } catch (error) {
    await Promise.all([closeRedis(revocations, { hard: true }), closeRedis(main)]);
    throw error;
  }
}

/** The session store, and the Redis connection it owns (shared with the rate limiter), if any. */
async function buildSessionStore(
  config: Config,
  policy: SessionPolicy,
  logger: Logger,
): Promise<{ sessions: SessionStore; redis?: RedisClient; answersHeld?: () => number }> {
  const { key_prefix, revocation, revocation_cache_max_age, revocation_cache_size } = config.cache;
  if (isEmbedded(config)) return { sessions: createMemorySessionStore({ policy }) };
  const redis = await connectRedis(config.cache, { logger });
  const replicas = revocationReplicas(config.cache);
  const replicated = replicas > 0 ? { redis: await connectRevocations(config, logger, redis), replicas, waitMs: waitMs(config) } : undefined;
  const store = createRedisSessionStore({ redis, prefix: key_prefix, policy, replicated });
  if (revocation === 'exact') return { sessions: store, redis };
  const subscriber = createRedis(config.cache, { logger, subscriber: true });
  const cached = createCachedRevocationStore({
    store,
    subscriber,
    channel: redisKeys(key_prefix).revocationChannel,
    maxAgeMs: revocation_cache_max_age,
    maxEntries: revocation_cache_size,
    logger,
  });
  await connectClient(subscriber).catch(async (error: unknown) => {
    await cached.close();
    throw error;
  });
  return { sessions: cached, redis, answersHeld: cached.answersHeld };
}

async function buildUserStore(config: Config, logger: Logger): Promise<UserStore & AuditEventsSink> {
  const { url, data_dir, pool_size, connect_timeout, password_file } = config.database;
  if (!url) return createPgliteUserStore({ dataDir: data_dir, warn: (message) => logger.warn(message) });
  const password = password_file ? readSecretFile('database.password_file', password_file) : undefined;
  await migratePostgres(url, { log: (message) => logger.info(message), connectTimeoutMs: connect_timeout, password });
  return createPostgresUserStore({ url, password, poolSize: pool_size, connectTimeoutMs: connect_timeout });
}

/** The audit trail writer on the user database's connections (no pool of its own). */
function buildAuditLog(config: Config, database: AuditEventsSink, logger: Logger): AuditLog {
  const { enabled, flush_interval, max_queue } = config.audit;
  if (!enabled) return disabledAuditLog();
  return createAuditLog({ insertBatch: database.insertAuditEvents, logger, maxQueue: max_queue, flushMs: flush_interval });
}

/** One line per 10 s at most while argon2 threads keep failing (each is started again, waiting longer each time). */
function threadFailureLog(logger: Logger) {
  const throttle = createLogThrottle(10_000);
  return (error: Error) =>
    throttle((suppressed) => logger.error({ err: error, suppressed }, 'argon2 thread failed (a batch it ran answers 503); a new one starts, later each time while they keep failing'));
}

function requireSharedUsers(config: Config) {
  if (!isEmbedded(config) && !config.database.url) throw new ConfigError('database.url: required with a shared Redis (every instance must see the same users)');
}

/** The stores and what works on them, shared by the service and the admin CLI: users, sessions, the hasher, the audit trail. */
async function buildStores(config: Config, logger: Logger) {
  const { auth } = config;
  const policy: SessionPolicy = {
    refreshLifetimeMs: auth.refresh_lifetime,
    autoLogoutMs: auth.auto_logout,
    refreshReuseGraceMs: auth.refresh_reuse_grace,
    maxSessions: auth.max_sessions,
  };
  // What may fail comes before anything is opened (the list of common passwords is a file).
  const passwordPolicy = {
    minLength: config.passwords.min_length,
    maxLength: config.passwords.max_length,
    commonPasswords: config.passwords.reject_common ? loadCommonPasswords() : undefined,
  };
  const users = await buildUserStore(config, logger);
  const { sessions, redis, answersHeld } = await buildSessionStore(config, policy, logger).catch(async (error: unknown) => {
    await users.close();
    throw error;
  });
  const hasher = createPasswordHasher({
    // argon2 runs on threads of its own at low priority (see defaultHashConcurrency).
    concurrency: config.passwords.hash_concurrency || defaultHashConcurrency(),
    onThreadFailure: threadFailureLog(logger),
  });
  const stores = {
    config,
    logger,
    users,
    sessions,
    hasher,
    audit: buildAuditLog(config, users, logger),
    passwordPolicy,
  } satisfies AdminCliDeps;
  return { stores, redis, answersHeld };
}

/** The stores and the configuration: what the admin CLI works with. */
export type AdminCliDeps = AdminDeps & { config: Config };

/**
 * What the admin CLI works with: the stores, without the signing keys and the refresh secret,
 * which it never uses (an operator running it needs only the stores' URLs and passwords).
 */
export async function createAdminDeps(config: Config, logger: Logger): Promise<AdminCliDeps> {
  requireSharedUsers(config);
  return (await buildStores(config, logger)).stores;
}

/** Builds every dependency from the configuration: stores, keys, hasher. */
export async function createDeps(config: Config, logger: Logger): Promise<AppDeps> {
  const { auth } = config;
  requireSharedUsers(config);
  const keyRing = await buildKeyRing(config, logger);
  const refreshKey = refreshSecret(config, logger);
  const { stores, redis, answersHeld } = await buildStores(config, logger);
  const { users, hasher } = stores;
  // The service's instances keep the trail within audit.retention (the admin CLI, short-lived, does not).
  const { enabled, retention } = config.audit;
  const audit = enabled && retention > 0 ? withRetention(stores.audit, { prune: users.pruneAuditEvents, retentionMs: retention, logger }) : stores.audit;
  const accessTokens = createAccessTokens({
    keyRing,
    issuer: auth.issuer,
    audience: auth.audience,
    lifetimeMs: auth.access_lifetime,
    clockToleranceMs: auth.clock_tolerance,
    cacheSize: auth.token_cache_size,
  });
  // A client refreshes about once per access lifetime: a salt set two lifetimes ago is read again if needed.
  const sessionSalts = createBoundedCache<string>(SESSION_SALTS_REMEMBERED, 2 * auth.access_lifetime);
  const cacheEntries = () => ({ access_tokens: accessTokens.cachedTokens, session_salts: sessionSalts.size, revocation_answers: answersHeld?.() });
  const deps: Omit<AppDeps, 'rateLimits'> = {
    ...stores,
    audit,
    keyRing,
    metrics: createMetrics({ queueDepth: () => hasher.queueDepth(), auditStats: () => audit.stats(), cacheEntries }),
    instanceId: instanceIdOf(config.server),
    lifecycle: { draining: false },
    accessTokens,
    refreshTokens: createRefreshTokenCodec(refreshKey),
    devices: createDeviceTokens(refreshKey),
    sessionSalts,
    endRetries: createEndRetries({ sessions: stores.sessions, logger }),
  };
  // Brute-force limits on the session store's Redis connection (no pool of their own): shared by every instance.
  const limiter = redis ? createRedisRateLimiter({ redis, prefix: config.cache.key_prefix }) : createMemoryRateLimiter();
  const rateLimits = createRateLimits({
    limiter,
    config: config.limits,
    metrics: deps.metrics,
    logger,
    audit: deps.audit,
    devices: deps.devices,
    passwordHashOf: async (userId) => (await users.findById(userId))?.passwordHash ?? null,
  });
  return { ...deps, rateLimits };
}

/**
 * Closes what `createDeps` (or `createAdminDeps`) opened, in the order late writes need: they get
 * a while to settle on their own (their second ends run and their changes are audited while everything is open); then
 * the audit trail writes its last events (it needs the database), the user store closes (which
 * settles or cuts off what is left), the second ends this released run, the ends still being
 * retried get one last try, Redis closes, and the argon2 threads stop. Each wait is bounded;
 * failures to close are ignored, as at every shutdown.
 */
export async function closeDeps(deps: Pick<AppDeps, 'sessions' | 'audit' | 'users' | 'hasher'> & Partial<Pick<AppDeps, 'endRetries'>>): Promise<void> {
  await lateWritesSettled(deps.sessions);
  await deps.audit.close();
  await deps.users.close().catch(() => {});
  await lateWritesSettled(deps.sessions);
  await deps.endRetries?.settle();
  await deps.sessions.close().catch(() => {});
  await deps.hasher.close();
}
