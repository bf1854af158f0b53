import { domainToASCII, domainToUnicode } from 'node:url';
import { z } from 'zod';
import { printable } from '../util/text-schemas.js';

const NON_ASCII = /[^\u0000-\u007f]/;
/**
 * What IDNA is given: letters, digits, dots and hyphens beside the non-ASCII ones. `domainToASCII`
 * parses a URL host, which would also strip tabs and newlines, decode `%41` and cut at `/?#\`.
 */
const IDNA_INPUT = /^(?:[a-z0-9.-]|[^\u0000-\u007f])+$/i;
/**
 * A label may not start or end with a hyphen (RFC 5891 §4.2.3.1), which its punycode form would
 * hide. Checked on what IDNA made of the domain: it maps `－` to `-` and `。` to `.`.
 */
const HYPHEN_AT_EDGE = /(?:^|\.)-|-(?:\.|$)/;

/**
 * The one canonical form of an e-mail address: trimmed and lower-cased, with an internationalised
 * domain in its DNS form (IDNA: `bücher.example` → `xn--bcher-kva.example`), so both spellings
 * are one account. An ASCII domain is only lower-cased; so is one IDNA refuses, one with other
 * ASCII than letters, digits, dots and hyphens, or a label starting or ending with a hyphen (which
 * then fails the e-mail check at registration).
 */
export function normaliseEmail(email: string): string {
  const trimmed = email.trim();
  const at = trimmed.lastIndexOf('@');
  const domain = trimmed.slice(at + 1);
  if (at === -1 || !NON_ASCII.test(domain) || !IDNA_INPUT.test(domain)) return trimmed.toLowerCase();
  // IDNA folds case itself, and better than toLowerCase (ẞ → ss, as DNS does).
  const ascii = domainToASCII(domain);
  if (ascii === '' || HYPHEN_AT_EDGE.test(domainToUnicode(ascii))) return trimmed.toLowerCase();
  return `${trimmed.slice(0, at + 1).toLowerCase()}${ascii}`;
}

/**
 * Every `xn--` label is the DNS form of an internationalised one (it decodes to non-ASCII text that
 * encodes back to it): `xn--com-` would show as `com`, and `xn---` decodes to nothing.
 */
export const punycodeIsReal = (address: string) =>
  domainLabels(address).every((label) => {
    if (!label.startsWith('xn--')) return true;
    const unicode = domainToUnicode(label);
    return NON_ASCII.test(unicode) && domainToASCII(unicode) === label;
  });

/** The labels of an address's domain (after its last `@`). */
export const domainLabels = (address: string) => address.slice(address.lastIndexOf('@') + 1).split('.');

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
/** An address to register, checked in its canonical form (`normaliseEmail`): an internationalised domain counts in its DNS form. */
export const emailAddress = z
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
/** An e-mail to look up (login, admin search): printable text once trimmed, as at registration; a malformed one simply matches no user. */
export const emailLookup = z.string().trim().pipe(printable(254));
