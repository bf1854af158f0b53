import { domainToASCII } from 'node:url';

const NON_ASCII = /[^\u0000-\u007f]/;

/**
 * The one canonical form of an e-mail address: trimmed and lower-cased, with an internationalised
 * domain in its DNS form (IDNA: `bücher.example` → `xn--bcher-kva.example`), so both spellings
 * are one account. An ASCII domain is left as it is; one IDNA refuses stays as given (and fails
 * the e-mail check at registration).
 */
export function normaliseEmail(email: string): string {
  const lower = email.trim().toLowerCase();
  const at = lower.lastIndexOf('@');
  const domain = lower.slice(at + 1);
  if (at === -1 || !NON_ASCII.test(domain)) return lower;
  const ascii = domainToASCII(domain);
  return ascii === '' ? lower : `${lower.slice(0, at + 1)}${ascii}`;
}
