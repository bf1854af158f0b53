import fc from 'fast-check';
import { trailingBitVariants } from '../helpers/jws.js';

/** Token mutations for the fast-check properties: each is a pure string → string edit. */
export type Mutation = (token: string) => string;

const at = (text: string, fraction: number) => Math.min(text.length, Math.floor(fraction * (text.length + 1)));
const fraction = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const nearAlphabet = fc.constantFrom(...'ABCXYZabcxyz0189-_.=+/ \t%\\"{}'.split(''), '\u00a0', '\u00ff', 'é');

function mapSegment(token: string, segment: number, edit: (value: string) => string): string {
  const parts = token.split('.');
  const index = segment % Math.max(1, parts.length);
  parts[index] = edit(parts[index] ?? '');
  return parts.join('.');
}

function flipDecodedBit(segment: string, byteFraction: number, bit: number): string {
  const bytes = Buffer.from(segment, 'base64url');
  if (bytes.length === 0) return segment;
  const index = Math.min(bytes.length - 1, Math.floor(byteFraction * bytes.length));
  bytes[index] = (bytes[index] ?? 0) ^ (1 << bit);
  return bytes.toString('base64url');
}

/** Re-spells a JSON segment: same value, other bytes (whitespace, member order, escapes). */
function respellJson(segment: string, style: number): string {
  try {
    const value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;
    const text =
      style === 0
        ? JSON.stringify(value, null, 1)
        : style === 1
          ? JSON.stringify(Object.fromEntries(Object.entries(value).reverse()))
          : JSON.stringify(value).replace(/"([a-z]+)":/, (_, key: string) => `"\\u00${key.charCodeAt(0).toString(16)}${key.slice(1)}":`);
    return Buffer.from(text).toString('base64url');
  } catch {
    return segment;
  }
}

const caseEdit = (kind: number) => (text: string) => (kind === 0 ? text.toUpperCase() : kind === 1 ? text.toLowerCase() : [...text].map((ch) => (ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase())).join(''));

/** One random mutation. */
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fraction, fc.integer({ min: 0, max: 7 })).map(([where, bit]): Mutation => (token) => {
    const index = Math.min(token.length - 1, Math.floor(where * token.length));
    return `${token.slice(0, index)}${String.fromCharCode(token.charCodeAt(index) ^ (1 << bit))}${token.slice(index + 1)}`;
  }),
  fc.tuple(fraction, nearAlphabet).map(([where, ch]): Mutation => (token) => `${token.slice(0, at(token, where))}${ch}${token.slice(at(token, where) + 1)}`),
  fc.tuple(fraction, fc.string({ maxLength: 8 })).map(([where, text]): Mutation => (token) => `${token.slice(0, at(token, where))}${text}${token.slice(at(token, where))}`),
  fc.tuple(fraction, fc.integer({ min: 1, max: 16 })).map(([where, length]): Mutation => (token) => `${token.slice(0, at(token, where))}${token.slice(at(token, where) + length)}`),
  fraction.map((where): Mutation => (token) => token.slice(0, at(token, where))),
  fc.tuple(fc.nat(2), fc.nat(2)).map(([i, j]): Mutation => (token) => {
    const parts = token.split('.');
    const [a, b] = [parts[i % parts.length] ?? '', parts[j % parts.length] ?? ''];
    parts[i % parts.length] = b;
    parts[j % parts.length] = a;
    return parts.join('.');
  }),
  fc.tuple(fc.nat(2), fc.boolean()).map(([segment, drop]): Mutation => (token) => {
    const parts = token.split('.');
    const index = segment % parts.length;
    if (drop) parts.splice(index, 1);
    else parts.splice(index, 0, parts[index] ?? '');
    return parts.join('.');
  }),
  fc.tuple(fraction, fc.integer({ min: 1, max: 40 }), fc.nat(2)).map(([where, length, kind]): Mutation => (token) => {
    const start = at(token, where);
    return `${token.slice(0, start)}${caseEdit(kind)(token.slice(start, start + length))}${token.slice(start + length)}`;
  }),
  fc.tuple(fc.nat(2), fraction, fc.integer({ min: 0, max: 7 })).map(([segment, where, bit]): Mutation => (token) => mapSegment(token, segment, (value) => flipDecodedBit(value, where, bit))),
  fc.tuple(fc.nat(2), fc.nat(14)).map(([segment, pick]): Mutation => (token) => mapSegment(token, segment, (value) => trailingBitVariants(value)[pick] ?? value)),
  fc.tuple(fc.nat(1), fc.nat(2)).map(([segment, style]): Mutation => (token) => mapSegment(token, segment, (value) => respellJson(value, style))),
  fc.tuple(fc.nat(2), fc.nat(2)).map(([segment, kind]): Mutation => (token) =>
    mapSegment(token, segment, (value) => (kind === 0 ? `${value}=` : kind === 1 ? value.replaceAll('-', '+').replaceAll('_', '/') : `${value}==`)),
  ),
);

/** One to three mutations applied in order. */
export const mutationsArb = fc.array(mutationArb, { minLength: 1, maxLength: 3 }).map((list) => (token: string) => list.reduce((value, mutate) => mutate(value), token));
