/**
 * How one limit counts: at most `max` hits per `windowMs`. When a key reaches `max` it is
 * locked; with `backoffMs > 0` the lock lasts `backoffMs`, and each further hit let through
 * after a lock ends doubles it, up to `maxBackoffMs` (never a permanent lockout). The counter is
 * forgotten `windowMs` after the last lock ends. With `backoffMs = 0` the lock lasts until the
 * window ends (a plain fixed window).
 */
export interface LimitPolicy {
  max: number;
  windowMs: number;
  backoffMs: number;
  maxBackoffMs: number;
}

/** One counter: which limit (`login_account`, `login_ip`, …) and whom it counts (an IP, an account hash). */
export interface LimitKey {
  limit: string;
  subject: string;
  policy: LimitPolicy;
  /**
   * Keys hit together in one atomic call must share a group (in Redis: one hash tag, one
   * Cluster slot). Without a group a key has a slot of its own.
   */
  group?: string | undefined;
}

export type LimitDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number; limit: string };

/**
 * A shared counter of attempts. Each method is atomic over all the keys it is given: either
 * every key counts the hit or none does.
 */
export interface RateLimiter {
  /**
   * Refused (nothing counted) while any key is locked, with the longest remaining lock as
   * `retryAfterSeconds` and that key's limit; otherwise counts one hit on every key (and locks
   * those that reach their `max`).
   */
  hit(keys: readonly LimitKey[]): Promise<LimitDecision>;
  /** Takes one counted hit back (it was not a failure after all); a key back under its `max` is unlocked. */
  refund(keys: readonly LimitKey[]): Promise<void>;
  /** Forgets a key: counter, back-off and lock (a successful login clears its account's failures). */
  reset(key: LimitKey): Promise<void>;
}

/** The lock a key gets at its `count`-th hit (`count >= max`), in ms; `null` for a plain window. */
export function lockMs(policy: LimitPolicy, count: number): number | null {
  if (policy.backoffMs <= 0) return null;
  const doublings = Math.min(count - policy.max, 40);
  return Math.min(policy.backoffMs * 2 ** doublings, Math.max(policy.maxBackoffMs, policy.backoffMs));
}

/** Whole seconds to announce in `Retry-After` for a lock ending in `ms` (at least 1). */
export const retryAfterSeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
