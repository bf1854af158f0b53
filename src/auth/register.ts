import { reportEvent } from '../audit/report.js';
import { AppError } from '../errors.js';
import { requireStrongPassword } from '../passwords/policy.js';
import type { SessionMeta } from '../sessions/session-store.js';
import { normaliseEmail } from '../users/email.js';
import { auditClient, proven, publicUser } from './account-proof.js';
import type { AuthDeps } from './deps.js';
import { startSession, type TokenResponse } from './token-response.js';

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
  reportEvent(deps, { event: 'register', userId: user.id, sessionId: tokens.session_id, ...auditClient(meta) }, 'user registered');
  return { ...proven(deps, user, tokens), user: publicUser(user) };
}
