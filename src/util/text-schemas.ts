import { z } from 'zod';

/**
 * An unpaired UTF-16 surrogate (JSON `"\ud800"`): such a string has no UTF-8 form, and encoding
 * replaces it with U+FFFD, so two different passwords would hash alike (and two e-mails collide).
 * In `u` mode a surrogate pair is one code point, outside this range.
 */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
export const wellFormed = (schema: z.ZodString) => schema.refine((value) => !LONE_SURROGATE.test(value), 'must be valid Unicode text (an unpaired surrogate is not)');

/** The message of a length limit, in the API's words (`device: must be at most 128 characters`). */
export const atMost = (max: number) => `must be at most ${max} characters`;

/**
 * C0 and C1 controls, the line and paragraph separators, and the bidirectional marks,
 * embeddings, overrides and isolates: NUL cannot be stored in PostgreSQL text, and the rest cannot
 * be shown safely (a device label `\u202Egnp.exe` reads as `exe.png` in a session list).
 */
const UNSHOWABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
/** Printable text: no `UNSHOWABLE` character. */
export const printable = (max: number) => wellFormed(z.string().max(max, atMost(max)).refine((text) => !UNSHOWABLE.test(text), 'must not contain control or text-direction characters'));
