import { createHmac, sign, type KeyObject } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';

/** Shared by the security suites and the token unit tests: hand-built JWS tokens, an equivalence oracle, header-safe text. */

export type Json = Record<string, unknown>;

export const b64url = (value: Json | string | Buffer) =>
  Buffer.from(typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value)).toString('base64url');

/** Signs `input` the way JWS `alg` does (RFC 7518 §3), with node:crypto only. */
export function jwsSignature(alg: string, key: KeyObject | Buffer, input: string): Buffer {
  if (alg === 'HS256') return createHmac('sha256', key).update(input).digest();
  if (Buffer.isBuffer(key)) throw new Error('asymmetric algorithms need a KeyObject');
  if (alg === 'ES256') return sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return sign(null, Buffer.from(input), key);
}

/** A compact JWS built by hand: any header, any payload segment, a real signature under `signAs` (default: the header's alg). */
export function craftRaw(header: Json, payloadSegment: string, key: KeyObject | Buffer, signAs = String(header['alg'])): string {
  const input = `${b64url(header)}.${payloadSegment}`;
  return `${input}.${jwsSignature(signAs, key, input).toString('base64url')}`;
}

export const craft = (header: Json, payload: Json, key: KeyObject | Buffer) => craftRaw(header, b64url(payload), key);

const decodeJson = (segment: string): unknown => JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));

/**
 * The oracle of the mutation properties: `candidate` (as the server sees it, trimmed) is a
 * spelling of `live` — three segments whose header and payload decode (leniently, as Node
 * decodes base64url) to the identical JSON and whose signature decodes to the identical bytes.
 */
export function isEquivalentSpelling(candidate: string, live: string): boolean {
  const parts = candidate.trim().split('.');
  const [h, p, s] = live.split('.') as [string, string, string];
  if (parts.length !== 3) return false;
  const [ch, cp, cs] = parts as [string, string, string];
  try {
    return (
      isDeepStrictEqual(decodeJson(ch), decodeJson(h)) &&
      isDeepStrictEqual(decodeJson(cp), decodeJson(p)) &&
      Buffer.from(cs, 'base64url').equals(Buffer.from(s, 'base64url'))
    );
  } catch {
    return false;
  }
}

/**
 * Spare-bit variants of one base64url segment: the same bytes, a different spelling (the last
 * character carries 2 or 4 bits that the decoder drops). Empty when the length is a multiple of 4.
 */
export function trailingBitVariants(segment: string): string[] {
  const spareBits = { 0: 0, 2: 4, 3: 2 }[segment.length % 4] ?? 0;
  if (spareBits === 0) return [];
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(segment.at(-1) ?? 'A');
  const variants: string[] = [];
  for (let low = 1; low < 1 << spareBits; low += 1) variants.push(`${segment.slice(0, -1)}${alphabet[last ^ low]}`);
  return variants;
}

/** Other spellings Node's lenient decoder maps to the same bytes: padding, the standard alphabet, whitespace. */
export function lenientVariants(segment: string): string[] {
  const padded = `${segment}${'='.repeat((4 - (segment.length % 4)) % 4)}`;
  const variants = [padded === segment ? `${segment}=` : padded, `${segment}==`, segment.replaceAll('-', '+').replaceAll('_', '/'), `${segment.slice(0, 4)} ${segment.slice(4)}`];
  return [...new Set(variants)].filter((variant) => variant !== segment);
}

/** Replaces segment `index` of a compact token. */
export function withSegment(token: string, index: number, segment: string): string {
  const parts = token.split('.');
  parts[index] = segment;
  return parts.join('.');
}

/** What an HTTP field value may carry (RFC 9110 §5.5: VCHAR, obs-text, SP, HTAB), without the edges fetch trims. */
export const isHeaderSafe = (value: string) => /^[\t\x20-\x7e\x80-\xff]*$/.test(value);

/** Any text as the bytes an HTTP header would carry: UTF-8, each byte one latin1 character, CTLs dropped. */
export const asHeaderBytes = (text: string) => Buffer.from(text, 'utf8').toString('latin1').replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '');
