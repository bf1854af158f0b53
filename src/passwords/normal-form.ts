/**
 * The form a password is hashed and checked in: Unicode NFKC, as NIST SP 800-63B §5.1.1.2 asks
 * of a verifier that takes Unicode. The same text sent with a precomposed `é` or as `e` + U+0301
 * (keyboards and copy-paste differ), or in full-width letters, is one password.
 */
export const normalPassword = (password: string): string => password.normalize('NFKC');

/**
 * The argon2 verifies a check of `password` may run: two when its normal form differs from it,
 * since the form as sent is tried too (hashes made before passwords were normalised).
 */
export const verifiesFor = (password: string): 1 | 2 => (normalPassword(password) === password ? 1 : 2);
