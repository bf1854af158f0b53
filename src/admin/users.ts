import type { AdminEventName, AuditClient } from '../audit/events.js';
import { reportEvent } from '../audit/report.js';
import type { AuthDeps } from '../auth/deps.js';
import { endAllAroundLateWrite } from '../auth/late-writes.js';
import { AppError, UnavailableError } from '../errors.js';
import { requireStrongPassword } from '../passwords/policy.js';
import { MAX_ROLES, ROLE } from '../tokens/access-token.js';
import { emailAddress, emailLookup, normaliseEmail } from '../users/email.js';
import { lateWrite } from '../users/query-deadline.js';
import type { User, UserChange } from '../users/user-store.js';
import { isUuid } from '../util/uuid.js';

/** The role that may use `/admin`. */
export const ADMIN_ROLE = 'admin';

/**
 * What the admin use cases work with (the CLI and the HTTP routes build it the same way), but
 * the retries of ending sessions: a service's only (the CLI exits).
 */
export type AdminDeps = Pick<AuthDeps, 'users' | 'sessions' | 'hasher' | 'passwordPolicy' | 'logger' | 'audit'> & Partial<Pick<AuthDeps, 'endRetries'>>;

/** Who acts: the admin's user id and client through the API; none of them for the CLI (an operator on the host). */
export interface Actor extends AuditClient {
  userId?: string | undefined;
}

/** An account as admins see it: never the password hash. */
export const adminUserView = (user: User) => ({
  id: user.id,
  email: user.email,
  roles: user.roles,
  disabled: user.disabledAt !== null,
  disabled_at: user.disabledAt?.toISOString() ?? null,
  created_at: user.createdAt.toISOString(),
  updated_at: user.updatedAt.toISOString(),
});

/**
 * Checks a role list (each role `ROLE`, at most `MAX_ROLES`), dropping duplicates in order.
 * @throws {AppError} `invalid_request` naming the first bad role
 */
export function parseRoles(roles: readonly string[]): string[] {
  const unique = [...new Set(roles)];
  if (unique.length > MAX_ROLES) throw new AppError('invalid_request', `roles: at most ${MAX_ROLES} roles`);
  const bad = unique.find((role) => !ROLE.test(role));
  if (bad !== undefined) {
    throw new AppError('invalid_request', `roles: ${JSON.stringify(bad.slice(0, 80))} is not a role (1-64 of A-Z a-z 0-9 _ . : -)`);
  }
  return unique;
}

/** Logs an admin action and queues it for the audit trail. */
function reportAdminAction(deps: AdminDeps, event: AdminEventName, actor: Actor, userId: string, details: Record<string, unknown> = {}) {
  const facts = { ...details, actor: actor.userId ?? 'cli' };
  const message = `admin: ${event.replace(/^admin_/, '').replaceAll('_', ' ')}`;
  reportEvent(deps, { event, userId, ip: actor.ip, userAgent: actor.userAgent, details: facts }, message, facts);
}

/** The user with this id. @throws {AppError} `not_found` */
export async function getUser(deps: AdminDeps, userId: string): Promise<User> {
  const user = await deps.users.findById(userId);
  if (!user) throw new AppError('not_found', 'no such user');
  return user;
}

/** The user with this e-mail (case-insensitive). @throws {AppError} `invalid_request` (not printable text), `not_found` */
export async function getUserByEmail(deps: AdminDeps, email: string): Promise<User> {
  // PostgreSQL text cannot hold NUL: such a search is the caller's mistake, not a database error.
  if (!emailLookup.safeParse(email).success) throw new AppError('invalid_request', 'email: must be printable text of at most 254 characters');
  const user = await deps.users.findByEmail(normaliseEmail(email));
  if (!user) throw new AppError('not_found', `no user with e-mail ${normaliseEmail(email)}`);
  return user;
}

/**
 * Creates an account (bootstrap, operators). The password goes through the policy and the hasher.
 * @throws {AppError} `invalid_request` (bad e-mail or roles), `weak_password`, `email_taken`
 */
export async function createUser(deps: AdminDeps, actor: Actor, input: { email: string; password: string; roles?: readonly string[] | undefined }) {
  const email = normaliseEmail(input.email);
  if (!emailAddress.safeParse(email).success) throw new AppError('invalid_request', 'email: must be an e-mail address');
  const roles = input.roles && input.roles.length > 0 ? parseRoles(input.roles) : undefined;
  requireStrongPassword(input.password, deps.passwordPolicy, email);
  const user = await deps.users.create({ email, passwordHash: await deps.hasher.hash(input.password), ...(roles ? { roles } : {}) });
  if (!user) throw new AppError('email_taken', `an account with e-mail ${email} already exists`);
  reportAdminAction(deps, 'admin_user_created', actor, user.id, { roles: user.roles });
  return user;
}

/**
 * Writes `change`. Through the API only while the acting admin still is one, checked in the
 * write's own transaction under a lock every such write takes (`UserStore.changeAs`): two admins
 * demoting or disabling each other at once are served one after the other, and the second is no
 * longer an admin. As an admin cannot demote or disable themself, the API never leaves no admin.
 */
async function write(deps: AdminDeps, actor: Actor, userId: string, change: UserChange): Promise<void> {
  let outcome: 'changed' | 'not_found' | 'refused';
  if (actor.userId !== undefined) outcome = await deps.users.changeAs({ userId: actor.userId, role: ADMIN_ROLE }, userId, change);
  else {
    const changed = 'roles' in change ? await deps.users.setRoles(userId, change.roles) : await deps.users.setDisabled(userId, change.disabled);
    outcome = changed ? 'changed' : 'not_found';
  }
  if (outcome === 'refused') throw new AppError('forbidden', 'you are no longer an admin');
  if (outcome === 'not_found') throw new AppError('not_found', 'no such user');
}

/** What the logs say of an admin change's ends of sessions. */
const ADMIN_CHANGE = 'admin change';

/**
 * Every session ends before the write too: an instance that dies between the write and the end
 * after it (killed, its node lost) would leave them alive, with no retry anywhere and nothing to
 * tell the admin to repeat the call (the change reads as made). Then only a login made between
 * the two ends could outlive such a death. That first end is best effort: failing, the one after
 * the write answers as before. An unknown user is a 404 before it; a change refused by the write
 * (the caller no longer an admin) has ended the sessions all the same, as
 * `DELETE /admin/users/:id/sessions` may.
 *
 * The write happens next, then every session ends and the token version moves (DESIGN:
 * "user disabled / roles changed: INCR tv and delete all sessions"), so no token minted under
 * the old state survives. The change is recorded once written (a late write: once it lands). A
 * failed second step answers a 503 that says the change is saved but the sessions live on: a
 * service instance tries again for five minutes (`endRetries`; the CLI cannot, and says so), and
 * repeating the call is safe, and needed if Redis stays away longer (refreshes take their roles
 * from the session, not the database).
 */
async function changeAndEndSessions(deps: AdminDeps, actor: Actor, userId: string, change: UserChange, record: () => void): Promise<User> {
  await getUser(deps, userId);
  await deps.sessions.endAll(userId).catch((error: unknown) => {
    deps.logger.warn({ err: error, userId }, `${ADMIN_CHANGE}: the sessions could not be ended before the write (they end after it if it succeeds)`);
  });
  await write(deps, actor, userId, change).catch(async (error: unknown) => {
    // Not answered in time, the write may still land, with no repeat coming (the admin reads the
    // change as made): the sessions end anyway, which is harmless if it never lands, and the
    // change is recorded if it lands as one.
    const landing = lateWrite(error);
    if (landing) {
      // Ended: an earlier attempt's retries are done (the write still landing ends them again).
      if (await endAllAroundLateWrite(deps, userId, landing, ADMIN_CHANGE, record)) deps.endRetries?.cancel(userId);
      else deps.endRetries?.schedule(userId, ADMIN_CHANGE);
    }
    throw error;
  });
  record();
  try {
    await deps.sessions.endAll(userId);
  } catch (error) {
    deps.endRetries?.schedule(userId, ADMIN_CHANGE);
    const retrying = deps.endRetries ? ' (this instance retries for 5 minutes)' : '';
    throw new AppError('unavailable', `the change is saved, but the user's sessions could not be ended yet${retrying}: repeat this request`, {
      retryAfter: 1,
      shown: true,
      cause: error,
    });
  }
  // A repeat that worked: an earlier attempt's retries are done.
  deps.endRetries?.cancel(userId);
  return getUser(deps, userId);
}

/** Disables an account: it cannot log in, and every token it holds dies. An admin cannot disable themself. */
export async function disableUser(deps: AdminDeps, actor: Actor, userId: string): Promise<User> {
  if (actor.userId === userId) throw new AppError('invalid_request', 'you cannot disable your own account');
  return changeAndEndSessions(deps, actor, userId, { disabled: true }, () => reportAdminAction(deps, 'admin_user_disabled', actor, userId));
}

/** Enables an account again (it logs in afresh; the token version moves as for every admin change). */
export async function enableUser(deps: AdminDeps, actor: Actor, userId: string): Promise<User> {
  return changeAndEndSessions(deps, actor, userId, { disabled: false }, () => reportAdminAction(deps, 'admin_user_enabled', actor, userId));
}

/**
 * Replaces the roles. Sessions record roles at login, so every session ends; the next login
 * carries the new roles. An admin cannot take the admin role from themself (as they cannot
 * disable themself): the last admin would lock every admin out of the API.
 */
export async function setUserRoles(deps: AdminDeps, actor: Actor, userId: string, roles: readonly string[]): Promise<User> {
  const valid = parseRoles(roles);
  if (actor.userId === userId && !valid.includes(ADMIN_ROLE)) throw new AppError('invalid_request', 'you cannot remove your own admin role');
  return changeAndEndSessions(deps, actor, userId, { roles: valid }, () => reportAdminAction(deps, 'admin_roles_changed', actor, userId, { roles: valid }));
}

/** The user's live sessions, newest first. @throws {AppError} `not_found` for an unknown user */
export async function listUserSessions(deps: AdminDeps, userId: string) {
  await getUser(deps, userId);
  return deps.sessions.list(userId);
}

/**
 * Checks the user exists, for a revocation: 404 for an unknown one. Sessions live in Redis alone,
 * so with PostgreSQL unavailable (refused, or no answer within its deadline) the revocation goes
 * on all the same: an incident's first step must not depend on the database. It ends nothing if
 * there is no such user.
 */
async function lookUpToRevoke(deps: AdminDeps, userId: string): Promise<void> {
  await getUser(deps, userId).catch((error: unknown) => {
    if (!(error instanceof UnavailableError)) throw error;
  });
}

/** Ends every session of the user and moves the token version. */
export async function revokeUserSessions(deps: AdminDeps, actor: Actor, userId: string): Promise<void> {
  await lookUpToRevoke(deps, userId);
  await deps.sessions.endAll(userId);
  deps.endRetries?.cancel(userId);
  reportAdminAction(deps, 'admin_sessions_revoked', actor, userId);
}

/** Ends one session of the user. @throws {AppError} `not_found` for an unknown user or session */
export async function revokeUserSession(deps: AdminDeps, actor: Actor, userId: string, sessionId: string): Promise<void> {
  await lookUpToRevoke(deps, userId);
  // Session ids are looked up under this user only, so another user's session is simply not found.
  const ended = isUuid(sessionId) && (await deps.sessions.endSession(userId, sessionId));
  if (!ended) throw new AppError('not_found', 'no such session');
  reportAdminAction(deps, 'admin_session_revoked', actor, userId, { session_id: sessionId });
}
