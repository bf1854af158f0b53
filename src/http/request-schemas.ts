import { z } from 'zod';
import { emailAddress, emailLookup } from '../users/email.js';
import { atMost, printable, wellFormed } from '../util/text-schemas.js';

/** A password to check against a hash; one this long was never accepted (`passwords.max_length` is at most 1024). */
const password = wellFormed(z.string().min(1, 'is required').max(4096, atMost(4096)));
/** A password to set: every length rule is the policy's (`weak_password`, however long). */
const newPassword = wellFormed(z.string().min(1, 'is required'));
const device = printable(128).optional();
const token = z.string().min(1, 'is required').max(8192, atMost(8192));
/** A trusted-device token from an earlier login; one that does not verify is ignored (counted as none). */
const deviceToken = z.string().min(1, 'must not be empty').max(256, atMost(256)).optional();

/** `POST /register` */
export const registerBody = z.object({ email: emailAddress, password: newPassword, device });
/** `POST /login` */
export const loginBody = z.object({ email: emailLookup, password, device, device_token: deviceToken });
/** `POST /refresh`, and `POST /logout` without a bearer token: the token may come from the cookie instead. */
export const refreshTokenBody = z.object({ refresh_token: token.optional() });
/** `POST /password` */
export const passwordBody = z.object({ current_password: password, new_password: newPassword, device_token: deviceToken });
/**
 * `POST /revoke` (RFC 7009 §2.1). Strings of every length (the body limit bounds them): a token
 * longer than ours can be, or an unknown hint, is simply not found and answered 200 like every
 * unknown token (§2.2).
 */
export const revokeBody = z.object({ token: z.string().min(1, 'is required'), token_type_hint: z.string().optional() });
