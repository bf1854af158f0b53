import { reportEvent } from '../audit/report.js';
import { AppError, ChangedMeanwhileError } from '../errors.js';
import type { HashPlace } from '../passwords/hasher.js';
import { verifiesFor } from '../passwords/normal-form.js';
import { requireStrongPassword } from '../passwords/policy.js';
import type { SessionMeta } from '../sessions/session-store.js';
import { lateWrite } from '../users/query-deadline.js';
import type { User } from '../users/user-store.js';
import { type AttemptLimiter, changedMeanwhile, auditClient, confirmUnchanged, invalidCredentials, proven, type ProvenTokens } from './account-proof.js';
import type { AuthDeps } from './deps.js';
import { endAllAroundLateWrite, endAllLogged } from './late-writes.js';
import { startSession, tokenResponse, type TokenResponse } from './token-response.js';

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
    reportEvent(deps, { event: 'password_change_failed', userId: user.id, sessionId: caller.sessionId, ...auditClient(meta), details: { reason: 'wrong_password' } }, 'password change refused');
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
  const kept = await deps.sessions.endOthers(user.id, caller.sessionId, user.roles).catch((error: unknown) => endAllAfterFailure(deps, user.id, meta, error));
  const recordChange = (sessionId: string | undefined) => {
    reportEvent(deps, { event: 'password_changed', userId: user.id, sessionId, ...auditClient(meta), details: { sessions_ended: kept ? 'others' : 'all' } }, 'password changed');
  };
  // Every device token of the old password is dead; this client proved the new one.
  const changed = { ...user, passwordHash };
  if (kept) {
    const tokens = tokenResponse(deps, user.id, caller.sessionId, kept.salt, kept);
    recordChange(tokens.session_id);
    return proven(deps, changed, tokens);
  }
  return proven(deps, changed, await restartAfterChange(deps, user.id, meta, () => recordChange(undefined)));
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
  const recordLanded = () => deps.audit.record({ event: 'password_changed', userId, ...auditClient(meta), details: { written: 'late' } });
  const ended = await (landing ? endAllAroundLateWrite(deps, userId, landing, 'password change', recordLanded) : endAllLogged(deps, userId, 'password changed'));
  if (!ended) deps.endRetries.schedule(userId, 'password change');
  const said = landing
    ? { cause: 'its write got no answer (it may have landed, or still land)', state: 'the database did not confirm the new password', next: 'log in with the new password (the old one if that is refused)' }
    : { cause: 'its other sessions could not be ended after the write', state: 'the password was changed', next: 'log in with the new password' };
  deps.logger.error({ err: error, event: 'password_changed', userId, sessionsEnded: ended }, `password change: ${said.cause}; ${ended ? 'every session ended instead' : 'ending every session failed too'}`);
  deps.audit.record({ event: 'password_changed', userId, ...auditClient(meta), details: { sessions_ended: ended ? 'all' : 'failed', ...(landing ? { written: 'unknown' } : {}) } });
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
async function restartAfterChange(deps: AuthDeps, userId: string, meta: SessionMeta, recordChange: () => void): Promise<TokenResponse> {
  await deps.sessions.endAll(userId).catch((error: unknown) => endAllAfterFailure(deps, userId, meta, error));
  // Every session has ended: the change is recorded now, whatever becomes of the session
  // started in the caller's place (an admin may have disabled the account meanwhile).
  recordChange();
  const current = await deps.users.findById(userId);
  if (!current || current.disabledAt) throw new AppError('invalid_token', 'the account is disabled or gone');
  const tokens = await startSession(deps, current, meta);
  // Repeating the change cannot help now (its password is set, its session ended): say so.
  await confirmUnchanged(
    deps,
    current,
    tokens.session_id,
    auditClient(meta),
    () => new ChangedMeanwhileError('the password was changed, but the account changed again meanwhile: log in again'),
  );
  return tokens;
}
