import { AppError, OverloadedError } from '../errors.js';
import type { HashPlace } from '../passwords/hasher.js';
import { verifiesFor } from '../passwords/normal-form.js';
import { requireStrongPassword } from '../passwords/policy.js';
import type { SessionMeta } from '../sessions/session-store.js';
import { accountSubject } from '../security/device-token.js';
import { normaliseEmail } from '../users/email.js';
import { lateWrite } from '../users/query-deadline.js';
import type { User } from '../users/user-store.js';
import type { AuthDeps } from './deps.js';
import { endAllAroundLateWrite, endAllLogged } from './late-writes.js';
import { startSession, tokenResponse, type TokenResponse } from './token-response.js';

/** Runs a password check of the account `email` under brute-force limits (see security/rate-limits.ts). */
export type AttemptLimiter = <T>(email: string, attempt: () => Promise<T>) => Promise<T>;

const invalidCredentials = () => new AppError('invalid_credentials', 'e-mail or password is wrong');
/** The account changed while a login or password change was under way: a retry sees the change (a race, not an outage). */
const changedMeanwhile = (during: string) => new AppError('unavailable', `the account changed during ${during}, retry`, { retryAfter: 1, shown: true });

/** The client side of an audit event. */
const client = (meta: SessionMeta) => ({ ip: meta.ip, userAgent: meta.userAgent });

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
const proven = (deps: AuthDeps, user: User, tokens: TokenResponse): ProvenTokens => ({
  tokens,
  deviceToken: deps.devices.issue(accountSubject(user.email), { userId: user.id, passwordHash: user.passwordHash }),
});

/**
 * Creates an account and logs it in. As a login's, its argon2 place is taken before
 * `countRegistration` counts it: one refused for load is not counted against its client.
 */
export async function register(deps: AuthDeps, input: { email: string; password: string }, meta: SessionMeta, countRegistration: () => Promise<void>) {
  const email = normaliseEmail(input.email);
  const place = deps.hasher.reserve();
  let passwordHash: string;
  try {
    await countRegistration();
    requireStrongPassword(input.password, deps.passwordPolicy, email);
    passwordHash = await deps.hasher.hash(input.password, place);
  } finally {
    place.release();
  }
  const user = await deps.users.create({ email, passwordHash });
  if (!user) throw new AppError('email_taken', 'an account with this e-mail already exists');
  let tokens: TokenResponse;
  try {
    tokens = await startSession(deps, user, meta);
  } catch (error) {
    // A register answered with an error must not leave the account behind (the retry would get 409).
    await deps.users.delete(user.id).catch((cause: unknown) => deps.logger.error({ err: cause, userId: user.id }, 'register: could not remove the half-created user'));
    throw error;
  }
  deps.logger.info({ event: 'register', userId: user.id }, 'user registered');
  deps.audit.record({ event: 'register', userId: user.id, sessionId: tokens.session_id, ...client(meta) });
  return { ...proven(deps, user, tokens), user: publicUser(user) };
}

/**
 * Checks e-mail and password; unknown e-mails cost the argon2 verifies a wrong password costs (one,
 * or two for a password whose normal form differs) and get the same answer.
 * A failure goes to the audit trail with its real reason (never shown to the client).
 */
export async function authenticateUser(deps: AuthDeps, email: string, password: string, meta: SessionMeta, place: HashPlace): Promise<User> {
  const user = await deps.users.findByEmail(normaliseEmail(email));
  if (!user) {
    await deps.hasher.verifyDummy(password, place);
    deps.audit.record({ event: 'login_failed', ...client(meta), details: { reason: 'unknown_email' } });
    throw invalidCredentials();
  }
  const matched = await deps.hasher.match(user.passwordHash, password, place);
  if (matched === false || user.disabledAt) {
    deps.audit.record({ event: 'login_failed', userId: user.id, ...client(meta), details: { reason: matched ? 'disabled' : 'wrong_password' } });
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
      deps.audit.record({ event: 'login_failed', userId: user.id, ...client(meta), details: { reason: 'changed_during_login' } });
      throw changedMeanwhile('login');
    }
    return { ...user, passwordHash };
  }
  return user;
}

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
async function confirmUnchanged(deps: AuthDeps, read: User, sessionId: string, changed = () => changedMeanwhile('login')): Promise<void> {
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
  deps.audit.record({ event: 'login_failed', userId: read.id, details: { reason } });
  if (!current || current.disabledAt) throw invalidCredentials();
  throw changed();
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
    .then((started) => confirmUnchanged(deps, user, started.session_id).then(() => started))
    .catch((error: unknown) => {
      deps.metrics.login(error instanceof AppError && error.code === 'invalid_credentials' ? 'invalid_credentials' : 'unavailable');
      throw error;
    });
  deps.metrics.login('ok');
  deps.logger.info({ event: 'login', userId: user.id }, 'login');
  deps.audit.record({ event: 'login', userId: user.id, sessionId: tokens.session_id, ...client(meta) });
  return proven(deps, user, tokens);
}

/** The caller's account once its current password is proven, checked in `place` under the login limits. */
async function provenCaller(
  deps: AuthDeps,
  caller: { userId: string; sessionId: string },
  password: string,
  meta: SessionMeta,
  limitAttempt: AttemptLimiter,
  place: HashPlace,
): Promise<User> {
  const user = await deps.users.findById(caller.userId);
  if (!user || user.disabledAt) throw new AppError('invalid_token', 'the account no longer exists');
  // Guessing the current password is guessing a login: the same per-account limits apply.
  await limitAttempt(user.email, async () => {
    if ((await deps.hasher.match(user.passwordHash, password, place)) !== false) return;
    deps.logger.info({ event: 'password_change_failed', userId: user.id }, 'password change refused');
    deps.audit.record({ event: 'password_change_failed', userId: user.id, sessionId: caller.sessionId, ...client(meta), details: { reason: 'wrong_password' } });
    throw invalidCredentials();
  });
  return user;
}

/**
 * Changes the password of the caller. Every other session ends and the token version moves,
 * so every older access token dies; the caller's session continues with a new token pair.
 */
export async function changePassword(
  deps: AuthDeps,
  caller: { userId: string; sessionId: string },
  input: { current_password: string; new_password: string },
  meta: SessionMeta,
  limitAttempt: AttemptLimiter,
): Promise<ProvenTokens> {
  // As a login's, the argon2 places (the check, then the new hash) are taken before the user is
  // read and the attempt counted.
  const place = deps.hasher.reserve(verifiesFor(input.current_password) + 1);
  let user: User;
  let passwordHash: string;
  try {
    user = await provenCaller(deps, caller, input.current_password, meta, limitAttempt, place);
    requireStrongPassword(input.new_password, deps.passwordPolicy, user.email);
    passwordHash = await deps.hasher.hash(input.new_password, place);
  } finally {
    place.release();
  }
  // The other sessions end before the password changes, the caller's own left as it is: if the
  // write fails they are gone already, and the caller retries with tokens that still work. A
  // caller whose session ended meanwhile (a logout-all, another session's change) changes nothing.
  if (!(await deps.sessions.endOthersKeepingTokens(user.id, caller.sessionId))) throw new AppError('invalid_token', 'the session has ended');
  // Only over the hash the current password was checked against. Refused (another change, or a
  // login upgrading the hash, came first), nothing more changes, the caller's tokens included: a
  // retry checks the current password again. Not answered in time, the write may still land,
  // with no end of a session a racing login began meanwhile: every session ends.
  const written = await deps.users.setPasswordHash(user.id, passwordHash, user.passwordHash).catch((error: unknown) => {
    const landing = lateWrite(error);
    if (landing) return endAllAfterFailure(deps, user.id, meta, error, landing);
    throw error;
  });
  if (!written) throw changedMeanwhile('the password change');
  // Then the token version moves and the caller's session goes on with it: every older token is
  // dead, and so is the session of a login that checked the old password and confirmed the
  // account (confirmUnchanged) between the first end and the write.
  const kept = await deps.sessions.endOthers(user.id, caller.sessionId).catch((error: unknown) => endAllAfterFailure(deps, user.id, meta, error));
  const tokens = kept
    ? tokenResponse(deps, user.id, caller.sessionId, kept.salt, { ...kept, roles: user.roles })
    : await restartAfterChange(deps, user.id, meta);
  deps.logger.info({ event: 'password_changed', userId: user.id }, 'password changed');
  deps.audit.record({ event: 'password_changed', userId: user.id, sessionId: tokens.session_id, ...client(meta), details: { sessions_ended: kept ? 'others' : 'all' } });
  // Every device token of the old password is dead; this client proved the new one.
  return proven(deps, { ...user, passwordHash }, tokens);
}

/**
 * The password is written (or, `landing`, its write may still land) but the other sessions could
 * not be ended: the request cannot be repeated (its current password may no longer be current),
 * so every session is ended instead, the caller's too, lest a login of the old password that
 * slipped in before the write outlive the failure. Answers 503 telling the client which password
 * to log in with.
 */
async function endAllAfterFailure(deps: AuthDeps, userId: string, meta: SessionMeta, error: unknown, landing?: Promise<unknown>): Promise<never> {
  // A write that may still land is recorded again if it does, so the trail says which password is
  // set (the sessions end again as it lands; this says only that it landed).
  const recordLanded = () => deps.audit.record({ event: 'password_changed', userId, ...client(meta), details: { written: 'late' } });
  const ended = await (landing ? endAllAroundLateWrite(deps, userId, landing, 'password change', recordLanded) : endAllLogged(deps, userId, 'password changed'));
  const said = landing
    ? { cause: 'its write got no answer (it may have landed, or still land)', state: 'the database did not confirm the new password', next: 'log in with the new password (the old one if that is refused)' }
    : { cause: 'its other sessions could not be ended after the write', state: 'the password was changed', next: 'log in with the new password' };
  deps.logger.error({ err: error, event: 'password_changed', userId, sessionsEnded: ended }, `password change: ${said.cause}; ${ended ? 'every session ended instead' : 'ending every session failed too'}`);
  deps.audit.record({ event: 'password_changed', userId, ...client(meta), details: { sessions_ended: ended ? 'all' : 'failed', ...(landing ? { written: 'unknown' } : {}) } });
  throw new AppError(
    'unavailable',
    ended ? `${said.state} and every session ended: ${said.next}` : `${said.state}, and sessions could not be ended: ${said.next}, then log out everywhere`,
    { retryAfter: 1, shown: true, cause: error },
  );
}

/**
 * The caller's own session ended during its password change (a logout, an admin's change, its old
 * refresh token replayed): the password is set, so every session ends and the caller gets a new
 * one — from the account as it is now, confirmed like a login's, never from what the change read
 * before an admin disabled the account or changed its roles.
 */
async function restartAfterChange(deps: AuthDeps, userId: string, meta: SessionMeta): Promise<TokenResponse> {
  await deps.sessions.endAll(userId);
  const current = await deps.users.findById(userId);
  if (!current || current.disabledAt) throw new AppError('invalid_token', 'the account is disabled or gone');
  const tokens = await startSession(deps, current, meta);
  // Repeating the change cannot help now (its password is set, its session ended): say so.
  await confirmUnchanged(
    deps,
    current,
    tokens.session_id,
    () => new AppError('unavailable', 'the password was changed, but the account changed again meanwhile: log in again', { retryAfter: 1, shown: true }),
  );
  return tokens;
}

