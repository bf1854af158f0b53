import type { Context } from 'hono';
import type { z } from 'zod';
import { AppError } from './errors.js';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

async function readLimited(body: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) throw new AppError('payload_too_large', `the request body is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads and validates a JSON body: 415 unless it is JSON, 413 past `limit` bytes (also for
 * chunked bodies, counted while streaming), 400 `invalid_request` naming the bad field.
 */
export async function readJson<S extends z.ZodType>(
  c: Context,
  schema: S,
  limit: number,
  options?: { optional?: boolean },
): Promise<z.output<S>> {
  const length = c.req.header('content-length');
  if (Number(length ?? '0') > limit) throw new AppError('payload_too_large', `the request body is larger than ${limit} bytes`);
  const body = c.req.raw.body;
  const empty = length === '0' || (length === undefined && c.req.header('transfer-encoding') === undefined);
  if (!body || empty) {
    if (options?.optional) return validate(schema, {});
    throw new AppError('invalid_request', 'a JSON body is required');
  }
  if (!JSON_TYPE.test(c.req.header('content-type') ?? '')) {
    throw new AppError('unsupported_media_type', 'send the body as application/json');
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await readLimited(body, limit)));
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError('invalid_request', 'the body is not valid JSON');
  }
  return validate(schema, value);
}

function validate<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'body';
    throw new AppError('invalid_request', `${field}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
