import { isIP } from 'node:net';
import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';

// The value types config.yml is written in (durations, sizes, integers, flags, connection URLs),
// each a zod schema that names what it wants when a value is refused.

/** The longest duration anything takes: ten years. */
const MAX_DURATION = { ms: 87_600 * 3_600_000, text: '87600h' };
/** The longest a Node timer waits (2^31 − 1 ms): a longer one fires at once. */
export const MAX_TIMER = { ms: 2 ** 31 - 1, text: '596h' };

/**
 * A duration in ms; `positive`: zero is refused (a lifetime or timeout of 0 would end or fail
 * everything at once); `max`: the longest allowed (timers: `MAX_TIMER`).
 */
export const duration = (fallback: string, { positive = false, max = MAX_DURATION } = {}) =>
  z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((value, ctx) => {
      // A bare YAML number: as in Go, 0 is the one duration that needs no unit.
      if (typeof value === 'number' && value !== 0) {
        ctx.addIssue({ code: 'custom', message: `${value} has no unit (use e.g. 15m, 720h, 10s; only 0 may go without)` });
        return z.NEVER;
      }
      const text = String(value);
      const ms = parseDuration(text);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (use e.g. 15m, 720h, 10s)` });
        return z.NEVER;
      }
      if (positive && ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `must be longer than 0 (got "${text}")` });
        return z.NEVER;
      }
      if (ms > max.ms) {
        ctx.addIssue({ code: 'custom', message: `must be at most ${max.text} (got "${text}")` });
        return z.NEVER;
      }
      return ms;
    });
export const positiveDuration = (fallback: string) => duration(fallback, { positive: true });
/** A wait handed to a Node timer: above 0, and within what a timer can wait. */
export const timerDuration = (fallback: string) => duration(fallback, { positive: true, max: MAX_TIMER });

export const size = (fallback: string) =>
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
export const integerValue = (min: number, max: number) =>
  z.preprocess(
    (value) => (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value),
    z.number().int().min(min).max(max),
  );
export const integer = (min: number, max: number, fallback: number) => integerValue(min, max).default(fallback);

export function isAddressOrCidr(entry: string): boolean {
  const [address = '', bits, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  const prefix = Number(bits);
  return /^\d{1,3}$/.test(bits) && prefix <= (family === 4 ? 32 : 128);
}

/**
 * A boolean, also as the text `true`/`false` in either case (so it can come from `${ENV}`, where
 * `False` is a common spelling). Anything else says which words it takes: an `.env` habit such as
 * `0` or `no` would otherwise read "expected boolean", which an environment variable cannot be.
 */
export const flag = (fallback: boolean) =>
  z
    .unknown()
    .transform((value, ctx) => {
      const text = typeof value === 'string' ? value.toLowerCase() : value;
      if (text === true || text === 'true') return true;
      if (text === false || text === 'false') return false;
      // A short word is shown; a longer string may be a secret's variable given here by mistake.
      const word = typeof value === 'string' && /^[\w.-]{0,12}$/.test(value);
      const got = word ? JSON.stringify(value) : typeof value === 'string' ? `a string of ${value.length} characters` : value === null ? 'null' : typeof value;
      ctx.addIssue({ code: 'custom', message: `expected true or false, got ${got}` });
      return z.NEVER;
    })
    .default(fallback);

/** A TCP port as written in a node or URL: digits, 1–65535. */
const isPort = (text: string | undefined): boolean => text !== undefined && /^\d{1,5}$/.test(text) && Number(text) >= 1 && Number(text) <= 65535;

/** `host:port` or `[ipv6]:port`, port 1–65535. */
export const hostPort = z
  .string()
  .refine((node) => isPort(/^(?:[^\s:[\]]+|\[[0-9A-Fa-f:.]+\]):(\d+)$/.exec(node)?.[1]), 'must be host:port or [ipv6]:port (port 1-65535)');

/** A URL or secret that may be absent: `""` and `null` (an unset `${ENV}`) mean "not given". */
export const optionalText = z
  .string()
  .nullish()
  .transform((value) => (value ? value : undefined));

const INVALID_URL = 'is not a valid URL (a port above 65535? / # ? @ or % in the password must be percent-encoded)';

/** A url's host as an IPv6 address: `[address]` or `[address]:port`. */
const BRACKETED_HOST = /^\[([^\]]*)\](?::(.*))?$/;

/**
 * What postgres.js would make of a url's hosts, if it cannot use them; and the url with only its
 * first host, for `new URL`. postgres.js takes the hosts after the userinfo, comma-separated, each
 * `host[:port]` or `[ipv6]:port`. An `@` left in the password is refused (drivers disagree where
 * the userinfo ends: postgres.js 3 took the first, 4 the last).
 */
function postgresHosts(url: string): { problem?: string; firstOnly: string } {
  const authority = url.slice(url.indexOf('://') + 3).split(/[?/]/)[0] ?? '';
  const list = authority.slice(authority.indexOf('@') + 1);
  const hosts = list.split(',');
  for (const entry of hosts) {
    const bracketed = BRACKETED_HOST.exec(entry);
    const [host = '', port, extra] = bracketed ? [bracketed[1], bracketed[2]] : entry.split(':');
    // A zone (`%25eth0`) is refused: `new URL` takes none, so a first host with one could not be checked.
    const badHost = bracketed ? isIP(host) !== 6 || host.includes('%') : host.includes('@') || host.includes('[') || (host === '' && hosts.length > 1);
    if (badHost || extra !== undefined || (port !== undefined && !isPort(port))) return { problem: INVALID_URL, firstOnly: url };
  }
  return { firstOnly: hosts.length > 1 ? url.replace(list, hosts[0] ?? '') : url };
}

/**
 * A connection URL that may be absent, with one of `schemes`, that parses with its percent-encoding
 * intact (a driver would otherwise fail at connect time with a bare "Invalid URL"), and that
 * `path`, if given, accepts; `postgres`: read as postgres.js reads it (several hosts may be
 * listed). Messages never repeat the URL: it may carry a password.
 */
export const connectionUrl = (schemes: RegExp, what: string, { path, postgres = false }: { path?: { test: RegExp; message: string }; postgres?: boolean } = {}) =>
  optionalText.superRefine((url, ctx) => {
    if (url === undefined) return;
    if (!schemes.test(url)) {
      ctx.addIssue({ code: 'custom', message: `must be a ${what} URL` });
      return;
    }
    const hosts = postgres ? postgresHosts(url) : { firstOnly: url };
    if (hosts.problem) {
      ctx.addIssue({ code: 'custom', message: hosts.problem });
      return;
    }
    let parsed: URL;
    try {
      parsed = new URL(hosts.firstOnly);
      decodeURIComponent(parsed.username);
      decodeURIComponent(parsed.password);
    } catch {
      ctx.addIssue({ code: 'custom', message: INVALID_URL });
      return;
    }
    if (path && !path.test.test(parsed.pathname)) ctx.addIssue({ code: 'custom', message: path.message });
  });

/** Whether a connection URL carries a password (`scheme://user:password@host`, or ioredis's `?password=`). */
export const urlHasPassword = (url: string | undefined): boolean => url !== undefined && (/\/\/[^/@]*:[^/@]+@/.test(url) || /[?&]password=[^&]/.test(url));
