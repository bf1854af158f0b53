import type { Logger } from 'pino';
import type { AuthEvent } from '../audit/events.js';
import { reportEvent } from '../audit/report.js';
import type { Config } from '../config/schema.js';
import { AppError } from '../errors.js';
import type { Metrics } from '../observability/metrics.js';
import { createBoundedCache } from '../util/bounded-cache.js';
import { clientBucket } from './client-bucket.js';
import { accountSubject, type DeviceTokens } from './device-token.js';
import type { LimitKey, LimitPolicy, RateLimiter } from './rate-limiter.js';

export const LIMITS = ['login_account', 'login_device', 'login_ip', 'register_ip', 'refresh_ip'] as const;
type LimitName = (typeof LIMITS)[number];

/** The `limits:` section of the config. */
type LimitsConfig = Config['limits'];

/**
 * The service's brute-force limits on top of a `RateLimiter`: failed logins per account (or per
 * trusted device) and per client IP (with back-off), `/register` and `/refresh` per client IP.
 * Over a limit → 429 `rate_limited` with `Retry-After`.
 */
export interface RateLimits {
  /**
   * Runs a login attempt (or `/password`'s check of the current password: the same guess)
   * under the limits. The attempt is counted against the account and the
   * client IP *before* `attempt` runs (so a locked account costs no argon2 work, and parallel
   * attempts cannot slip past the count); the outcome then settles it: success clears the
   * account's failures and takes the IP's hit back, `invalid_credentials` stays counted, any
   * other error (503, …) is taken back on both.
   *
   * With a live device token of this account (see security/device-token.ts) and `login_device`
   * on, the device's own counter stands in for the account's: a stranger keeping the account
   * locked does not lock its owner out of a device they logged in from, and the owner's success
   * leaves that lock in place. Any other token counts as none.
   */
  login<T>(email: string, client: { ip: string | undefined; deviceToken?: string | undefined }, attempt: () => Promise<T>): Promise<T>;
  /** Counts one `/register` of this client IP; throws `rate_limited` over the limit. */
  register(ip: string | undefined): Promise<void>;
  /** Counts one `/refresh` of this client IP; throws `rate_limited` over the limit. */
  refresh(ip: string | undefined): Promise<void>;
}

/** The counter subject of a client address (none without one). */
const bucketOf = (ip: string | undefined) => (ip === undefined ? undefined : clientBucket(ip));

const policyOf = ({ max, window, backoff, max_backoff }: LimitsConfig[LimitName]): LimitPolicy => ({
  max,
  windowMs: window,
  backoffMs: backoff,
  maxBackoffMs: max_backoff,
});

/**
 * A login's two counters share the hash tag `{rl:login}` so one script counts both atomically
 * (a hit refused by one limit never counts against the other). All login counters therefore live
 * in one Redis Cluster slot: a small load, as every login attempt that gets through costs an
 * argon2 verify anyway.
 */
const LOGIN_GROUP = 'login';

/** Locks whose refusal was recorded, remembered until they end (the oldest go first past this). */
const RECORDED_LOCKS = 10_000;

export function createRateLimits({
  limiter,
  config,
  metrics,
  logger,
  audit,
  devices,
  passwordHashOf,
}: {
  limiter: RateLimiter;
  config: LimitsConfig;
  metrics: Metrics;
  logger: Logger;
  /** The audit trail: every refusal is recorded as `rate_limited` with `details.scope`. */
  audit: { record(event: AuthEvent): void };
  devices: DeviceTokens;
  /** The user's current password hash (`null`: no such user): a device token of another password is dead. */
  passwordHashOf: (userId: string) => Promise<string | null>;
}): RateLimits {
  const policies = Object.fromEntries(LIMITS.map((name) => [name, policyOf(config[name])])) as Record<LimitName, LimitPolicy>;
  const active = (limit: LimitName) => config.enabled && policies[limit].max > 0;
  const key = (limit: LimitName, subject: string | undefined, group?: string): LimitKey[] =>
    subject !== undefined && active(limit) ? [{ limit, subject, policy: policies[limit], group }] : [];

  // A refused request costs its sender one Redis call: recording each would let a flood of them
  // fill the log and push older audit events out of the queue. Each lock is recorded once per
  // instance (the metric still counts every refusal).
  const recordedLocks = createBoundedCache<true>(RECORDED_LOCKS);

  async function hit(keys: LimitKey[], ip: string | undefined) {
    if (keys.length === 0) return;
    const decision = await limiter.hit(keys);
    if (decision.allowed) return;
    metrics.rateLimited(decision.limit);
    const locked = keys.find((counter) => counter.limit === decision.limit);
    const lockId = `${decision.limit}:${locked?.subject ?? ''}`;
    const now = Date.now();
    if (recordedLocks.get(lockId, now) === undefined) {
      recordedLocks.set(lockId, true, now + decision.retryAfterSeconds * 1000, now);
      const details = { scope: decision.limit, retry_after: decision.retryAfterSeconds };
      reportEvent({ logger, audit }, { event: 'rate_limited', ip, details }, 'rate limited', { limit: decision.limit, ip, retryAfter: decision.retryAfterSeconds });
    }
    throw new AppError('rate_limited', `too many attempts, retry in ${decision.retryAfterSeconds} s`, {
      retryAfter: decision.retryAfterSeconds,
    });
  }

  /** Settling must never turn an answered login into an error: a failure here is only logged. */
  const settle = (work: Promise<void>) =>
    work.catch((error: unknown) => logger.warn({ err: error }, 'rate limits: could not settle a login attempt'));

  /**
   * Counts a login attempt before its password check, and returns the counter a success clears:
   * the account's, or a trusted device's. A device token whose MAC holds is counted on its device
   * and the client before the user is read (a replayed token costs the database nothing once either
   * is locked); one of an old password keeps that hit and is counted on the account as well.
   */
  async function countAttempt(account: string, client: LimitKey[], token: string | undefined, ip: string | undefined): Promise<LimitKey[]> {
    const accountKey = key('login_account', account, LOGIN_GROUP);
    const device = token !== undefined && active('login_device') ? devices.verify(account, token) : null;
    if (!device) {
      await hit([...accountKey, ...client], ip);
      return accountKey;
    }
    const deviceKey = key('login_device', device.deviceId, LOGIN_GROUP);
    await hit([...deviceKey, ...client], ip);
    let passwordHash: string | null;
    try {
      passwordHash = await passwordHashOf(device.userId);
    } catch (error) {
      // As with every other 503: counted against neither.
      await settle(limiter.refund([...deviceKey, ...client]));
      throw error;
    }
    if (passwordHash !== null && devices.stillTrusted(device, passwordHash)) return deviceKey;
    // A token of an old password keeps its device hit and counts as a login without one: the
    // client's hit is taken back and made again with the account's, in one script, so a locked
    // account leaves the client uncharged, as it does for a login without a token.
    await settle(limiter.refund(client));
    await hit([...accountKey, ...client], ip);
    return accountKey;
  }

  return {
    async login<T>(email: string, { ip, deviceToken }: { ip: string | undefined; deviceToken?: string | undefined }, attempt: () => Promise<T>): Promise<T> {
      const client = key('login_ip', bucketOf(ip), LOGIN_GROUP);
      // Success clears this counter only: a trusted device's login leaves a stranger's lock on the account in place.
      const account = await countAttempt(accountSubject(email), client, deviceToken, ip);
      let result: T;
      try {
        result = await attempt();
      } catch (error) {
        if (!(error instanceof AppError && error.code === 'invalid_credentials')) await settle(limiter.refund([...account, ...client]));
        throw error;
      }
      await settle(Promise.all([...account.map((counter) => limiter.reset(counter)), limiter.refund(client)]).then(() => undefined));
      return result;
    },

    async register(ip) {
      await hit(key('register_ip', bucketOf(ip)), ip);
    },

    async refresh(ip) {
      await hit(key('refresh_ip', bucketOf(ip)), ip);
    },
  };
}
