const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A canonical (lower-case, hyphenated) UUID, as `crypto.randomUUID()` and PostgreSQL produce.
 * Every id in tokens, sessions and users has this form, so one spelling per id.
 */
export const isUuid = (value: unknown): value is string => typeof value === 'string' && CANONICAL_UUID.test(value);

/** An id from a URL in the case ids are stored in: a UUID is case-insensitive on input (RFC 9562). */
export const canonicalCase = (id: string): string => id.toLowerCase();

/** A canonical UUID's 32 hex digits, without hyphens (for compact encodings). */
export const compactUuid = (uuid: string): string => uuid.replaceAll('-', '');

/** The canonical (hyphenated) form of a UUID's 32 hex digits: `compactUuid` undone. */
export const uuidFromHex = (hex: string): string =>
  `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
