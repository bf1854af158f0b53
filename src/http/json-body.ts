import type { IncomingMessage } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import type { z } from 'zod';
import { AppError } from '../errors.js';
import { duplicateJsonKey } from './json-duplicate-keys.js';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(?:;|$)/i;
const WIDE_CHARSET = /;\s*charset\s*=\s*"?utf-?(?:16|32)/i;

const tooLarge = (limit: number) => new AppError('payload_too_large', `the request body is larger than ${limit} bytes`);

async function readLimited(body: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const unreadable = () => new AppError('invalid_request', 'the request body could not be read');

/**
 * Reads the body straight from Node's request (no web stream in between). Past `limit` it stops
 * collecting but lets the rest drain, so the 413 still reaches the client on a usable connection.
 * A request aborted before or while it is read (its client closed its side: Node then drops the
 * request) is refused at once, never waited for: it would hold its handler for ever.
 */
function readIncoming(incoming: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    if (incoming.destroyed) {
      reject(unreadable());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      incoming.off('data', onData).off('end', onEnd).off('error', onError).off('close', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      done();
      incoming.resume();
      reject(tooLarge(limit));
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks));
    };
    const onError = () => {
      done();
      reject(unreadable());
    };
    incoming.on('data', onData).on('end', onEnd).on('error', onError).on('close', onError);
  });
}

/** `Content-Encoding` that leaves the body as it is (an empty value or `identity`). */
const IDENTITY = /^\s*(identity)?\s*$/i;

/**
 * Reads and validates a JSON body: 415 unless it is uncompressed JSON (UTF-8), 413 past `limit` bytes (also for
 * chunked bodies, counted while streaming), 400 `invalid_request` naming the bad field. With
 * `optional`, an empty body with no type or a JSON one is none, however it is framed. With `form`,
 * an `application/x-www-form-urlencoded` body is read too, as an object of its fields (OAuth's
 * format, RFC 6749 §3.1). A field given twice (a form's, or a key of the JSON body's object) is a 400.
 */
export async function readJson<S extends z.ZodType>(
  c: Context,
  schema: S,
  limit: number,
  options?: { optional?: boolean; form?: boolean },
): Promise<z.output<S>> {
  const length = c.req.header('content-length');
  if (Number(length ?? '0') > limit) throw tooLarge(limit);
  // Node's own request when served by node (touching `c.req.raw.body` would start a web stream).
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  const body = incoming ? undefined : c.req.raw.body;
  const none = () => validate(schema, {});
  const empty = length === '0' || (length === undefined && c.req.header('transfer-encoding') === undefined);
  if (empty || (!incoming && !body)) {
    if (options?.optional) return none();
    throw new AppError('invalid_request', options?.form ? 'a body is required' : 'a JSON body is required');
  }
  const type = c.req.header('content-type') ?? '';
  const form = options?.form === true && FORM_TYPE.test(type);
  const typed = form || JSON_TYPE.test(type);
  const refuseType = () =>
    new AppError('unsupported_media_type', `send the body as application/json${options?.form ? ' or application/x-www-form-urlencoded' : ''}`);
  // A body of unknown length and no type may turn out to be empty (Node's client sends a
  // `write('')` chunked): where the body is optional, that is no body, read to know.
  const mayBeNone = options?.optional === true && type === '' && length === undefined;
  if (!typed && !mayBeNone) throw refuseType();
  // JSON is UTF-8 (RFC 8259 §8.1); a body labelled UTF-16 or UTF-32 would fail as invalid JSON.
  if (WIDE_CHARSET.test(type)) throw new AppError('unsupported_media_type', 'send the body in UTF-8');
  // A compressed body is not read as if it were plain JSON (RFC 9110 §8.4: 415 for a coding not supported).
  const coding = c.req.header('content-encoding');
  if (coding !== undefined && !IDENTITY.test(coding)) {
    throw new AppError('unsupported_media_type', 'send the body uncompressed (Content-Encoding is not supported)');
  }
  let value: unknown;
  try {
    const bytes = incoming ? await readIncoming(incoming, limit) : await readLimited(body as ReadableStream<Uint8Array>, limit);
    if (bytes.byteLength === 0 && options?.optional) return none();
    if (!typed) throw refuseType();
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    value = form ? formFields(text) : jsonValue(text);
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError('invalid_request', `the body is not valid ${form ? 'form data' : 'JSON'}`);
  }
  return validate(schema, value);
}

/** A JSON body's value; a key of its object given twice is refused, as a form field given twice is. */
function jsonValue(text: string): unknown {
  const value: unknown = JSON.parse(text);
  const duplicate = duplicateJsonKey(text);
  if (duplicate !== undefined) throw new AppError('invalid_request', `${duplicate.slice(0, 64)}: given more than once`);
  return value;
}

/** A form's fields as an object with no prototype (a field named `__proto__` is then an ordinary field). */
function formFields(text: string): Record<string, string> {
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of new URLSearchParams(text)) {
    if (name === '') throw new AppError('invalid_request', 'a form field has no name');
    if (Object.hasOwn(fields, name)) throw new AppError('invalid_request', `${name.slice(0, 64)}: given more than once`);
    fields[name] = value;
  }
  return fields;
}

function validate<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'body';
    throw new AppError('invalid_request', `${field}: ${issue ? describe(issue, value) : 'invalid'}`);
  }
  return parsed.data;
}

/** What the request holds at `path` (own properties only). */
const valueAt = (value: unknown, path: readonly PropertyKey[]) =>
  path.reduce<unknown>((at, key) => (at !== null && typeof at === 'object' && Object.hasOwn(at, key) ? (at as Record<PropertyKey, unknown>)[key] : undefined), value);

/** An issue in the API's words: zod's for a missing or mistyped field read "Invalid input: expected string, received undefined". */
function describe(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code !== 'invalid_type') return issue.message;
  if (valueAt(value, issue.path) === undefined) return 'is required';
  return `must be ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`;
}
