import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.js';
import type { Metrics } from '../observability/metrics.js';
import type { PasswordHasher } from '../passwords/hasher.js';
import type { PasswordPolicy } from '../passwords/policy.js';
import type { DeviceTokens } from '../security/device-token.js';
import type { SessionStore } from '../sessions/session-store.js';
import type { AccessTokens } from '../tokens/access-token.js';
import type { RefreshTokenCodec } from '../tokens/refresh-token.js';
import type { BoundedCache } from '../util/bounded-cache.js';
import type { UserStore } from '../users/user-store.js';
import type { EndRetries } from './end-retries.js';

/** What the auth use cases work with; built once by `createDeps`. */
export interface AuthDeps {
  users: UserStore;
  sessions: SessionStore;
  hasher: PasswordHasher;
  passwordPolicy: PasswordPolicy;
  accessTokens: AccessTokens;
  refreshTokens: RefreshTokenCodec;
  /** Trusted-device tokens, issued to clients that prove the password (see security/device-token.ts). */
  devices: DeviceTokens;
  /**
   * Session salts this instance has seen (session id → salt, until the session's end as last
   * seen), so that most refreshes skip reading the salt from the store. Never decides alone.
   */
  sessionSalts: BoundedCache<string>;
  logger: Logger;
  metrics: Metrics;
  /** The audit trail (`auth_events`): `record` queues and returns at once, never throws. */
  audit: AuditLog;
  /** Ends of every session an outage refused after a saved change, tried again in the background. */
  endRetries: EndRetries;
}
