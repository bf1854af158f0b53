import { AppError } from '../errors.js';
import { normaliseEmail } from '../users/email.js';
import { normalPassword } from './normal-form.js';

export interface PasswordPolicy {
  /** Fewest Unicode code points accepted. */
  minLength: number;
  /** Most Unicode code points accepted (bounds argon2 input; nothing is ever truncated). */
  maxLength: number;
  /** Lower-cased passwords refused outright (see `loadCommonPasswords`); absent = no list check. */
  commonPasswords?: ReadonlySet<string>;
}

/**
 * Checks a new password against the policy (NIST SP 800-63B §5.1.1.2: length, no
 * composition rules, refuse values from lists of breached passwords). Returns `null` when
 * acceptable, otherwise a message for the client.
 */
export function checkPassword(sent: string, { minLength, maxLength, commonPasswords }: PasswordPolicy, email?: string): string | null {
  // Composition shrinks text at most 4:1 (Greek ᾄ from four code points; an astral pair, four
  // UTF-16 units, into one): input over 8 × maxLength units is too long whatever its normal
  // form, told before the work of normalising it (the body limit is the only other bound).
  if (sent.length > 8 * maxLength) return `password must be at most ${maxLength} characters`;
  // The form that is hashed.
  const password = normalPassword(sent);
  const length = [...password].length;
  if (length < minLength) return `password must be at least ${minLength} characters`;
  if (length > maxLength) return `password must be at most ${maxLength} characters`;
  if (email !== undefined && normaliseEmail(password) === normaliseEmail(email)) {
    return 'password must not be the e-mail address';
  }
  if (commonPasswords?.has(password.toLowerCase())) {
    return 'password is one of the most commonly used passwords; choose another';
  }
  return null;
}

/** `checkPassword`, refusing: @throws {AppError} `weak_password` with the message for the client. */
export function requireStrongPassword(password: string, policy: PasswordPolicy, email: string): void {
  const problem = checkPassword(password, policy, email);
  if (problem) throw new AppError('weak_password', problem);
}
