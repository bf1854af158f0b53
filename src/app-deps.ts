import type { AuthDeps } from './auth/deps.js';
import type { Config } from './config/schema.js';
import type { RateLimits } from './security/rate-limits.js';
import type { KeyRing } from './tokens/key-ring.js';

/** Everything `createApp` needs; built by `createDeps` in production and by tests directly. */
export interface AppDeps extends AuthDeps {
  config: Config;
  keyRing: KeyRing;
  /** Shown in the `X-Instance-Id` header so tests and operators see which replica answered. */
  instanceId: string;
  /** Flipped on shutdown: readiness answers 503 while in-flight requests drain. */
  lifecycle: { draining: boolean };
  /** Brute-force limits on login, register and refresh (429 `rate_limited`). */
  rateLimits: RateLimits;
}
