import { z } from 'zod';
import { connectionUrl, duration, flag, hostPort, integer, integerValue, isAddressOrCidr, MAX_TIMER, optionalText, positiveDuration, size, timerDuration, urlHasPassword } from './fields.js';

/** The shortest `auth.refresh_secret` (or `refresh_secret_file`'s content): the HMAC key of refresh and device tokens. */
export const MIN_REFRESH_SECRET_BYTES = 32;

/** A key id: what `auth.keys[].kid` accepts. */
export const KID = /^[A-Za-z0-9._-]{1,64}$/;

const keySchema = z
  .strictObject({
    /** Key id placed in the JWT header; verification picks keys only by exact kid. */
    kid: z.string().min(1).max(64).regex(KID, 'kid may only contain A-Z a-z 0-9 . _ -'),
    /** Path to a PEM (PKCS#8 private / SPKI public) or JWK JSON file; for HS256 a file holding the secret. */
    file: optionalText,
    /** The key material itself (PEM, JWK JSON or HS256 secret), usually `${ENV_VAR}`. */
    value: optionalText,
    /** `false`: published and accepted, but never used to sign (two-phase rotation). */
    sign: flag(true),
  })
  .refine((key) => Boolean(key.file) !== Boolean(key.value), { message: 'give exactly one of file or value' });

/** An exact origin as browsers send it: scheme, host and optional port; no path, no trailing slash. */
const ORIGIN = /^https?:\/\/(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

const corsSchema = z
  .strictObject({
    /** Exact origins allowed (`https://app.example.com`); `"*"` alone allows any, only without credentials. */
    origins: z.array(z.string().refine((origin) => origin === '*' || ORIGIN.test(origin), 'must be an origin like https://app.example.com (lower case, no path) or "*"')).default([]),
    /** `Access-Control-Allow-Credentials: true` (cookie mode from another origin). */
    credentials: flag(false),
    /** How long browsers may cache a preflight answer. */
    max_age: duration('10m'),
  })
  .refine((cors) => !(cors.credentials && cors.origins.includes('*')), {
    message: 'origins "*" cannot be combined with credentials: true (list the origins)',
  })
  .prefault({});

/** One brute-force limit (`limits.*`): `max` hits per `window`, then a lock (see LimitPolicy). */
const rateLimit = (max: number, window: string, backoff: string, maxBackoff: string) =>
  z
    .strictObject({
      /** Hits allowed per window; 0 turns this limit off. */
      max: integer(0, 1_000_000, max),
      window: duration(window),
      /** First lock after `max` hits; each further hit after a lock doubles it. 0: locked until the window ends. */
      backoff: duration(backoff),
      /** Longest lock. */
      max_backoff: duration(maxBackoff),
    })
    .refine((limit) => limit.window > 0, { message: 'window must be above 0', path: ['window'] })
    .refine((limit) => limit.max_backoff >= limit.backoff, { message: 'max_backoff must be at least backoff', path: ['max_backoff'] })
    .prefault({});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).default('0.0.0.0'),
      port: integer(0, 65535, 8080),
      body_limit: size('16kb').refine((bytes) => bytes >= 1024 && bytes <= 1024 * 1024, 'must be between 1kb (a login body must fit) and 1mb'),
      shutdown_grace: duration('10s', { max: MAX_TIMER }),
      keep_alive_timeout: timerDuration('75s'),
      /**
       * A request's line and headers must arrive within this, else 408: counted from a connection's
       * opening for its first request, from the first byte for later ones (a keep-alive connection
       * may idle between requests for keep_alive_timeout).
       */
      headers_timeout: timerDuration('20s'),
      /** The whole request, body included, must arrive within this, else 408. */
      request_timeout: timerDuration('30s'),
      trust_proxy: z.array(z.string().refine(isAddressOrCidr, 'must be an IP address or CIDR, e.g. 10.0.0.0/8')).default(['127.0.0.1/8', '::1/128']),
      metrics_port: integer(0, 65535, 0),
      instance_id: optionalText.refine((id) => id === undefined || /^[\w.:-]{1,64}$/.test(id), 'may only contain A-Z a-z 0-9 _ . : - (at most 64)'),
      /** Largest request head (request line + headers) Node accepts; past it Node answers 431. */
      max_header_size: size('16kb').refine((bytes) => bytes >= 1024 && bytes <= 1024 * 1024, 'must be between 1kb and 1mb'),
      /** Longest request target (path + query) in bytes; past it 414 `uri_too_long` (not for /authenticate). */
      max_url_length: integer(256, 1024 * 1024, 4096),
      /** CORS: none by default (no CORS headers at all); browsers on these origins may call the API. */
      cors: corsSchema,
    })
    .refine((server) => server.metrics_port === 0 || server.metrics_port !== server.port, {
      message: 'must differ from server.port',
      path: ['metrics_port'],
    })
    // Node swaps the two when the headers' is longer: headers would get the shorter one.
    .refine((server) => server.headers_timeout <= server.request_timeout, { message: 'must not exceed server.request_timeout', path: ['headers_timeout'] })
    .prefault({}),
  logging: z
    .strictObject({
      mode: z.enum(['text', 'json']).default('text'),
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /**
       * An access-log line for each 200 of `/authenticate` too. Off by default: a gateway asks on
       * every request and logs the request itself, and the line cost the hot path ~10% of its CPU.
       * Its 401s and 503s are always logged, and every answer is counted in the metrics.
       */
      authenticate_successes: flag(false),
    })
    .prefault({}),
  cache: z
    .strictObject({
      url: connectionUrl(/^rediss?:\/\//, 'redis:// or rediss://', {
        path: { test: /^(?:\/(?:\d{1,5}\/?)?)?$/, message: 'the database after the host must be a number (redis://host:6379/0)' },
      }),
      /** Redis Sentinel instead of `url`: the master's name and the sentinels (`host:port`). */
      sentinel: z
        .strictObject({
          name: z.string().min(1),
          nodes: z.array(hostPort).min(1),
          password: optionalText,
          sentinel_password: optionalText,
        })
        .optional(),
      /** Redis Cluster instead of `url`: seed nodes (`host:port`). */
      cluster: z.strictObject({ nodes: z.array(hostPort).min(1), password: optionalText }).optional(),
      // No braces: Redis Cluster hashes a key by its first {…}, which must be the user's own
      // ({userId}), or every user's keys would share one slot (and a script's keys could not).
      key_prefix: z
        .string()
        .min(1)
        .refine((prefix) => !/[{}]/.test(prefix), 'may not contain { or } (each key’s hash tag is the user id)')
        .default('jwt:'),
      command_timeout: timerDuration('500ms'),
      revocation: z.enum(['exact', 'cached']).default('exact'),
      revocation_cache_max_age: duration('10s'),
      revocation_cache_size: integer(1, 10_000_000, 100_000),
      /**
       * Replicas that must hold each revocation (Redis WAIT) before it is answered, so that a
       * failover cannot undo it (on a Cluster, replicas of the master serving the user's slot);
       * unset: 1 with `sentinel`, else 0. See `revocationReplicas`.
       */
      revocation_replicas: integerValue(0, 16).optional(),
      /**
       * Start, with a warning, on a Redis whose persistence can bring back an older state after a
       * crash (RDB snapshots, or AOF not fsynced on every write): revoked tokens could be valid
       * again. Off: the service refuses to start on one. See `checkPersistence`.
       */
      allow_rollback: flag(false),
      /**
       * A file holding the Redis password (a mounted Docker/Kubernetes secret; surrounding
       * whitespace is ignored), for `url`, the data nodes of `sentinel` or `cluster`.
       */
      password_file: optionalText,
    })
    .refine((cache) => [cache.url, cache.sentinel, cache.cluster].filter(Boolean).length <= 1, {
      message: 'give only one of url, sentinel or cluster',
    })
    .refine((cache) => !(cache.password_file && (urlHasPassword(cache.url) || cache.sentinel?.password || cache.cluster?.password)), {
      message: 'give the Redis password in one place: password_file, or the url (sentinel.password, cluster.password)',
    })
    .prefault({}),
  database: z
    .strictObject({
      url: connectionUrl(/^postgres(?:ql)?:\/\//, 'postgres:// or postgresql://', { postgres: true }),
      data_dir: z.string().default('./data'),
      pool_size: integer(1, 200, 10),
      connect_timeout: timerDuration('2s'),
      /** A file holding the password of the url's user (a mounted Docker/Kubernetes secret; surrounding whitespace is ignored). */
      password_file: optionalText,
    })
    .refine((database) => !(database.password_file && urlHasPassword(database.url)), {
      message: 'give the PostgreSQL password in one place: password_file or the url',
    })
    .prefault({}),
  auth: z
    .strictObject({
      issuer: z.string().min(1).default('jwt-cluster'),
      audience: z.string().min(1).default('api'),
      algorithm: z.enum(['EdDSA', 'ES256', 'HS256']).default('EdDSA'),
      keys: z.array(keySchema).default([]),
      refresh_secret: optionalText.refine((secret) => secret === undefined || Buffer.byteLength(secret) >= MIN_REFRESH_SECRET_BYTES, {
        message: `needs at least ${MIN_REFRESH_SECRET_BYTES} bytes`,
      }),
      /** A file holding the refresh secret instead (a mounted Docker/Kubernetes secret); surrounding whitespace is ignored. */
      refresh_secret_file: optionalText,
      access_lifetime: positiveDuration('15m'),
      refresh_lifetime: positiveDuration('720h'),
      auto_logout: positiveDuration('24h'),
      /** At most 5 minutes: within it, a stolen previous refresh token is answered with the current successor. */
      refresh_reuse_grace: duration('10s', { max: { ms: 300_000, text: '5m' } }),
      clock_tolerance: duration('5s'),
      token_cache_size: integer(0, 10_000_000, 10_000),
      max_sessions: integer(1, 10_000, 50),
      refresh_cookie: flag(false),
    })
    .refine((auth) => !(auth.refresh_secret && auth.refresh_secret_file), {
      message: 'give only one of refresh_secret (REFRESH_SECRET) or refresh_secret_file',
    })
    .refine((auth) => auth.access_lifetime <= auth.refresh_lifetime, { message: 'must not exceed auth.refresh_lifetime', path: ['access_lifetime'] })
    .refine((auth) => auth.clock_tolerance < auth.access_lifetime, { message: 'must be shorter than auth.access_lifetime', path: ['clock_tolerance'] })
    .prefault({}),
  limits: z
    .strictObject({
      /** false: no brute-force limits at all (load tests from one address); `${RATE_LIMITS}` works too. */
      enabled: flag(true),
      login_account: rateLimit(5, '15m', '30s', '15m'),
      /** Failed logins from one trusted device (a login presenting its `device_token`), in place of `login_account`. */
      login_device: rateLimit(5, '15m', '30s', '15m'),
      login_ip: rateLimit(50, '15m', '1m', '1h'),
      /** Firebase Authentication's own per-IP sign-up limit: one address may be a whole carrier NAT. */
      register_ip: rateLimit(100, '1h', '0', '0'),
      refresh_ip: rateLimit(600, '1m', '0', '0'),
    })
    .prefault({}),
  passwords: z
    .strictObject({
      min_length: integer(8, 128, 8),
      max_length: integer(8, 1024, 128),
      hash_concurrency: integer(0, 64, 0),
      reject_common: flag(true),
    })
    .refine((passwords) => passwords.min_length <= passwords.max_length, { message: 'must not exceed passwords.max_length', path: ['min_length'] })
    .prefault({}),
  audit: z
    .strictObject({
      /** Write auth events to the `auth_events` table (the structured log lines are written either way). */
      enabled: flag(true),
      /** Queued events are written this often (and at once when a batch is full). */
      flush_interval: timerDuration('1s'),
      /** Most events held in memory while the database is slow or down; beyond it the oldest are dropped. */
      max_queue: integer(1, 10_000_000, 10_000),
      /** Events older than this are removed (by every instance, in the background); 0 keeps them for ever. */
      retention: duration('2160h').refine((ms) => ms === 0 || ms >= 3_600_000, 'must be 0 (keep them for ever) or at least 1h'),
    })
    .prefault({}),
})
  // Activity slides the idle window at most once a second, and in cached mode only when a check
  // reaches Redis (at least every revocation_cache_max_age): a shorter window ends active sessions.
  .refine((config) => config.auth.auto_logout > Math.max(1000, config.cache.revocation === 'cached' ? config.cache.revocation_cache_max_age : 0), {
    message: 'must be above 1s, and in cached revocation mode above cache.revocation_cache_max_age (a shorter idle window ends sessions in active use)',
    path: ['auth', 'auto_logout'],
  });

/** The validated configuration: durations in milliseconds, sizes in bytes. */
export type Config = z.output<typeof configSchema>;
export type KeyConfig = Config['auth']['keys'][number];

/**
 * Replicas that must acknowledge each revocation: `cache.revocation_replicas`, or by default 1
 * on Sentinel (its failovers promote a replica, which may miss the last writes) and 0 otherwise.
 */
export const revocationReplicas = (cache: Config['cache']): number => cache.revocation_replicas ?? (cache.sentinel ? 1 : 0);
