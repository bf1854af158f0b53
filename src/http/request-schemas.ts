import { z } from 'zod';
import { domainLabels, normaliseEmail, punycodeIsReal } from '../users/email.js';

/**
 * An unpaired UTF-16 surrogate (JSON `"\ud800"`): such a string has no UTF-8 form, and encoding
 * replaces it with U+FFFD, so two different passwords would hash alike (and two e-mails collide).
 * In `u` mode a surrogate pair is one code point, outside this range.
 */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const wellFormed = (schema: z.ZodString) => schema.refine((value) => !LONE_SURROGATE.test(value), 'must be valid Unicode text (an unpaired surrogate is not)');

/** The message of a length limit, in the API's words (`device: must be at most 128 characters`). */
const atMost = (max: number) => `must be at most ${max} characters`;

/**
 * C0 and C1 controls, the line and paragraph separators, and the bidirectional marks,
 * embeddings, overrides and isolates: NUL cannot be stored in PostgreSQL text, and the rest cannot
 * be shown safely (a device label `\u202Egnp.exe` reads as `exe.png` in a session list).
 */
const UNSHOWABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
/** Printable text: no `UNSHOWABLE` character. */
const printable = (max: number) => wellFormed(z.string().max(max, atMost(max)).refine((text) => !UNSHOWABLE.test(text), 'must not contain control or text-direction characters'));

/**
 * RFC 5321 §4.5.3.1 lengths, which the address pattern does not check: at most 254 characters
 * in all, 64 before the `@`, 63 in each label of the domain. A longer address cannot receive mail.
 */
const withinMailLimits = (address: string) => address.lastIndexOf('@') <= 64 && domainLabels(address).every((label) => label.length <= 63);
/** A host name's labels may not end with a hyphen (RFC 1123 §2.1; the pattern already refuses one at the start). */
const hostLabels = (address: string) => domainLabels(address).every((label) => !label.endsWith('-'));
/** zod's e-mail pattern, but for a top-level domain that may be internationalised too (`.рф` is `.xn--p1ai`). */
const MAIL_ADDRESS = /^(?:[A-Za-z0-9_'+\-]+\.)*[A-Za-z0-9_'+\-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9][A-Za-z0-9\-]*\.)+(?:[A-Za-z]{2,}|xn--[A-Za-z0-9-]+)$/;
const TOO_LONG = 'must be an e-mail address (at most 254 characters)';
/** Checked in its canonical form (`normaliseEmail`): an internationalised domain counts in its DNS form. */
const email = z
  .string()
  .trim()
  .max(254, TOO_LONG)
  .transform(normaliseEmail)
  .pipe(
    z
      .string()
      .max(254, TOO_LONG)
      .email({ pattern: MAIL_ADDRESS, message: 'must be an e-mail address' })
      .refine(withinMailLimits, 'must be an e-mail address (at most 64 characters before the @, 63 in each part of the domain)')
      .refine(hostLabels, 'must be an e-mail address (no part of the domain may end with a hyphen)')
      .refine(punycodeIsReal, 'must be an e-mail address (an xn-- label must be a valid internationalised name)'),
  );
/** A password to check against a hash; one this long was never accepted (`passwords.max_length` is at most 1024). */
const password = wellFormed(z.string().min(1, 'is required').max(4096, atMost(4096)));
/** A password to set: every length rule is the policy's (`weak_password`, however long). */
const newPassword = wellFormed(z.string().min(1, 'is required'));
const device = printable(128).optional();
const token = z.string().min(1, 'is required').max(8192, atMost(8192));
/** A trusted-device token from an earlier login; one that does not verify is ignored (counted as none). */
const deviceToken = z.string().min(1, 'must not be empty').max(256, atMost(256)).optional();

/** `POST /register` */
export const registerBody = z.object({ email, password: newPassword, device });
/** An e-mail to look up (login, admin search): printable text once trimmed, as at registration; a malformed one simply matches no user. */
export const emailLookup = z.string().trim().pipe(printable(254));
/** `POST /login` */
export const loginBody = z.object({ email: emailLookup, password, device, device_token: deviceToken });
/** `POST /refresh`: the token may come from the cookie instead. */
export const refreshBody = z.object({ refresh_token: token.optional() });
/** `POST /logout` without a bearer token. */
export const logoutBody = z.object({ refresh_token: token.optional() });
/** `POST /password` */
export const passwordBody = z.object({ current_password: password, new_password: newPassword, device_token: deviceToken });
/**
 * `POST /revoke` (RFC 7009 §2.1). Strings of every length (the body limit bounds them): a token
 * longer than ours can be, or an unknown hint, is simply not found and answered 200 like every
 * unknown token (§2.2).
 */
export const revokeBody = z.object({ token: z.string().min(1, 'is required'), token_type_hint: z.string().optional() });
