import { isIP } from 'node:net';
import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (use e.g. 15m, 720h, 10s)` });
        return z.NEVER;
      }
      return ms;
    });

const size = (fallback: string) =>
  z
    .union([z.string(), z.number().int().nonnegative()])
    .default(fallback)
    .transform((value, ctx) => {
      const bytes = typeof value === 'number' ? value : parseSize(value);
      if (bytes === null) {
        ctx.addIssue({ code: 'custom', message: `"${String(value)}" is not a size (use e.g. 16kb, 1mb)` });
        return z.NEVER;
      }
      return bytes;
    });

/**
 * An integer, also given as a decimal string (`${PORT}`, env overrides). Unlike `z.coerce`,
 * `null`, `true` or `""` are type errors instead of silently becoming 0 or 1.
 */
const integer = (min: number, max: number, fallback: number) =>
  z
    .preprocess(
      (value) => (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value),
      z.number().int().min(min).max(max),
    )
    .default(fallback);

function isAddressOrCidr(entry: string): boolean {
  const [address = '', bits, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  const prefix = Number(bits);
  return /^\d{1,3}$/.test(bits) && prefix <= (family === 4 ? 32 : 128);
}

const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port');

/** A URL or secret that may be absent: `""` and `null` (an unset `${ENV}`) mean "not given". */
const optionalText = z
  .string()
  .nullish()
  .transform((value) => (value ? value : undefined));

const keySchema = z
  .strictObject({
    /** Key id placed in the JWT header; verification picks keys only by exact kid. */
    kid: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'kid may only contain A-Z a-z 0-9 . _ -'),
    /** Path to a PEM (PKCS#8 private / SPKI public) or JWK JSON file; for HS256 a file holding the secret. */
    file: optionalText,
    /** The key material itself (PEM, JWK JSON or HS256 secret), usually `${ENV_VAR}`. */
    value: optionalText,
    /** `false`: published and accepted, but never used to sign (two-phase rotation). */
    sign: z.boolean().default(true),
  })
  .refine((key) => Boolean(key.file) !== Boolean(key.value), { message: 'give exactly one of file or value' });

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      port: integer(0, 65535, 8080),
      body_limit: size('16kb'),
      shutdown_grace: duration('10s'),
      keep_alive_timeout: duration('75s'),
      trust_proxy: z.array(z.string().refine(isAddressOrCidr, 'must be an IP address or CIDR, e.g. 10.0.0.0/8')).default(['127.0.0.1/8', '::1/128']),
      metrics_port: integer(0, 65535, 0),
      instance_id: optionalText.refine((id) => id === undefined || /^[\w.:-]{1,64}$/.test(id), 'may only contain A-Z a-z 0-9 _ . : - (at most 64)'),
    })
    .prefault({}),
  logging: z
    .strictObject({
      mode: z.enum(['text', 'json']).default('text'),
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
  cache: z
    .strictObject({
      url: optionalText,
      /** Redis Sentinel instead of `url`: the master's name and the sentinels (`host:port`). */
      sentinel: z
        .strictObject({
          name: z.string().min(1),
          nodes: z.array(hostPort).min(1),
          password: optionalText,
          sentinel_password: optionalText,
        })
        .optional(),
      /** Redis Cluster instead of `url`: seed nodes (`host:port`). */
      cluster: z.strictObject({ nodes: z.array(hostPort).min(1), password: optionalText }).optional(),
      key_prefix: z.string().min(1).default('jwt:'),
      command_timeout: duration('500ms'),
      revocation: z.enum(['exact', 'cached']).default('exact'),
      revocation_cache_max_age: duration('10s'),
      revocation_cache_size: integer(1, 10_000_000, 100_000),
    })
    .refine((cache) => [cache.url, cache.sentinel, cache.cluster].filter(Boolean).length <= 1, {
      message: 'give only one of url, sentinel or cluster',
    })
    .prefault({}),
  database: z
    .strictObject({
      url: optionalText,
      data_dir: z.string().default('./data'),
      pool_size: integer(1, 200, 10),
      connect_timeout: duration('2s'),
    })
    .prefault({}),
  auth: z
    .strictObject({
      issuer: z.string().min(1).default('jwt-cluster'),
      audience: z.string().min(1).default('api'),
      algorithm: z.enum(['EdDSA', 'ES256', 'HS256']).default('EdDSA'),
      keys: z.array(keySchema).default([]),
      refresh_secret: optionalText,
      access_lifetime: duration('15m'),
      refresh_lifetime: duration('720h'),
      auto_logout: duration('24h'),
      refresh_reuse_grace: duration('10s'),
      clock_tolerance: duration('5s'),
      token_cache_size: integer(0, 10_000_000, 10_000),
      max_sessions: integer(1, 10_000, 50),
      refresh_cookie: z.boolean().default(false),
    })
    .prefault({}),
  passwords: z
    .strictObject({
      min_length: integer(8, 128, 8),
      max_length: integer(8, 1024, 128),
      hash_concurrency: integer(0, 64, 0),
    })
    .prefault({}),
});

/** The validated configuration: durations in milliseconds, sizes in bytes. */
export type Config = z.output<typeof configSchema>;
export type KeyConfig = Config['auth']['keys'][number];
