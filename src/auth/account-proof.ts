import type { AuditClient } from '../audit/events.js';
import { AppError, ChangedMeanwhileError } from '../errors.js';
import type { SessionMeta } from '../sessions/session-store.js';
import { accountSubject } from '../security/device-token.js';
import type { User } from '../users/user-store.js';
import type { AuthDeps } from './deps.js';
import type { TokenResponse } from './token-response.js';

// What register, login and a password change share: the answer to a failed proof of the
// password, the check that the account did not change meanwhile, and what a proof earns.

/** Runs a password check of the account `email` under brute-force limits (see security/rate-limits.ts). */
export type AttemptLimiter = <T>(email: string, attempt: () => Promise<T>) => Promise<T>;

export const invalidCredentials = () => new AppError('invalid_credentials', 'e-mail or password is wrong');
/** The account changed while a login or password change was under way: a retry sees the change (a race, not an outage). */
export const changedMeanwhile = (during: string) => new ChangedMeanwhileError(`the account changed during ${during}, retry`);

/** The client side of an audit event. */
export const auditClient = (meta: SessionMeta): AuditClient => ({ ip: meta.ip, userAgent: meta.userAgent });

/** Public view of a user: never the password hash. */
export const publicUser = (user: User) => ({
  id: user.id,
  email: user.email,
  roles: user.roles,
  created_at: user.createdAt.toISOString(),
});

/** Token pairs of a client that proved the password come with a trusted-device token (see security/device-token.ts). */
export interface ProvenTokens {
  tokens: TokenResponse;
  deviceToken: string;
}

/** `user` as it is after the proof: its password hash is the one the device token is bound to. */
export const proven = (deps: AuthDeps, user: User, tokens: TokenResponse): ProvenTokens => ({
  tokens,
  deviceToken: deps.devices.issue(accountSubject(user.email), { userId: user.id, passwordHash: user.passwordHash }),
});

const sameRoles = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((role, i) => role === b[i]);

/**
 * Closes the race between a login and a change of the same user: an admin's (disable, new
 * roles) or a password change. Each writes the change before ending the sessions it ends; the
 * login read the user before its password check and creates its session after. Reading the
 * user again once the session exists sees the change, or else the change's end-of-sessions
 * comes later and ends this session too. A changed user gets no tokens: the new session is
 * ended first. A login whose password hash changed meanwhile is answered 503 (retry), not as a
 * wrong password: the change may be another login's upgrade of the same password's hash, and the
 * retry checks the password against the current hash (a password really changed fails there).
 */
export async function confirmUnchanged(
  deps: AuthDeps,
  read: User,
  sessionId: string,
  client: AuditClient,
  changed = () => changedMeanwhile('login'),
): Promise<void> {
  let current: User | null;
  try {
    current = await deps.users.findById(read.id);
  } catch (error) {
    await deps.sessions.endSession(read.id, sessionId).catch(() => {});
    throw error;
  }
  const passwordChanged = current !== null && current.passwordHash !== read.passwordHash;
  if (current && !current.disabledAt && !passwordChanged && sameRoles(current.roles, read.roles)) return;
  await deps.sessions.endSession(read.id, sessionId);
  const reason = current?.disabledAt ? 'disabled' : passwordChanged ? 'password_hash_changed' : 'changed_during_login';
  deps.audit.record({ event: 'login_failed', userId: read.id, ...client, details: { reason } });
  if (!current || current.disabledAt) throw invalidCredentials();
  throw changed();
}
