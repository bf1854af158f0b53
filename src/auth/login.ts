import { reportEvent } from '../audit/report.js';
import { AppError, OverloadedError } from '../errors.js';
import type { HashPlace } from '../passwords/hasher.js';
import { verifiesFor } from '../passwords/normal-form.js';
import type { SessionMeta } from '../sessions/session-store.js';
import { normaliseEmail } from '../users/email.js';
import type { User } from '../users/user-store.js';
import { type AttemptLimiter, changedMeanwhile, auditClient, confirmUnchanged, invalidCredentials, proven, type ProvenTokens } from './account-proof.js';
import type { AuthDeps } from './deps.js';
import { startSession } from './token-response.js';

/**
 * Checks e-mail and password; unknown e-mails cost the argon2 verifies a wrong password costs (one,
 * or two for a password whose normal form differs) and get the same answer.
 * A failure goes to the audit trail with its real reason (never shown to the client).
 */
export async function authenticateUser(deps: AuthDeps, email: string, password: string, meta: SessionMeta, place: HashPlace): Promise<User> {
  const user = await deps.users.findByEmail(normaliseEmail(email));
  if (!user) {
    await deps.hasher.verifyDummy(password, place);
    deps.audit.record({ event: 'login_failed', ...auditClient(meta), details: { reason: 'unknown_email' } });
    throw invalidCredentials();
  }
  const matched = await deps.hasher.match(user.passwordHash, password, place);
  if (matched === false || user.disabledAt) {
    deps.audit.record({ event: 'login_failed', userId: user.id, ...auditClient(meta), details: { reason: matched ? 'disabled' : 'wrong_password' } });
    throw invalidCredentials();
  }
  // A hash of the form as sent (made before passwords were normalised) is replaced as a weak one is.
  if (matched === 'as-sent' || deps.hasher.needsRehash(user.passwordHash)) {
    // An upgrade, not the login's business: it takes the place a second verify did not use, if
    // any, and with the queue full it waits for a later login rather than refusing one whose
    // password is proven.
    const passwordHash = await deps.hasher.hash(password, place).catch((error: unknown) => {
      if (error instanceof OverloadedError) return undefined;
      throw error;
    });
    if (passwordHash === undefined) return user;
    // Only over the hash just checked: a password changed meanwhile must not be set back to this
    // one. Refused, the login is retried (a concurrent login of the same password may have
    // upgraded the hash first; a changed password then fails the retry).
    if (!(await deps.users.setPasswordHash(user.id, passwordHash, user.passwordHash))) {
      deps.audit.record({ event: 'login_failed', userId: user.id, ...auditClient(meta), details: { reason: 'changed_during_login' } });
      throw changedMeanwhile('login');
    }
    return { ...user, passwordHash };
  }
  return user;
}

/**
 * Logs in: a new session with its first token pair. Its argon2 place is taken first, before
 * `limitAttempt` counts it (one or two rate-limit round trips) or the user is read: in a storm
 * most logins are refused for load, and each then costs no Redis or database work.
 */
export async function login(
  deps: AuthDeps,
  input: { email: string; password: string },
  meta: SessionMeta,
  limitAttempt: AttemptLimiter,
): Promise<ProvenTokens> {
  let place: HashPlace;
  try {
    place = deps.hasher.reserve(verifiesFor(input.password));
  } catch (error) {
    deps.metrics.login('unavailable');
    throw error;
  }
  try {
    return await limitAttempt(input.email, () => checkedLogin(deps, input, meta, place));
  } finally {
    place.release();
  }
}

async function checkedLogin(deps: AuthDeps, input: { email: string; password: string }, meta: SessionMeta, place: HashPlace): Promise<ProvenTokens> {
  let user: User;
  try {
    user = await authenticateUser(deps, input.email, input.password, meta, place);
  } catch (error) {
    const failed = error instanceof AppError && error.code === 'invalid_credentials';
    deps.metrics.login(failed ? 'invalid_credentials' : 'unavailable');
    if (failed) deps.logger.info({ event: 'login_failed' }, 'login failed');
    throw error;
  }
  const tokens = await startSession(deps, user, meta)
    .then((started) => confirmUnchanged(deps, user, started.session_id, auditClient(meta)).then(() => started))
    .catch((error: unknown) => {
      deps.metrics.login(error instanceof AppError && error.code === 'invalid_credentials' ? 'invalid_credentials' : 'unavailable');
      throw error;
    });
  deps.metrics.login('ok');
  reportEvent(deps, { event: 'login', userId: user.id, sessionId: tokens.session_id, ...auditClient(meta) }, 'login');
  return proven(deps, user, tokens);
}
