import { setTimeout as sleepFor } from 'node:timers/promises';
import { accounts } from '../fixtures.js';
import type { Recorder } from './record.js';

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export const sleep = (ms: number, signal: AbortSignal) => sleepFor(ms, undefined, { signal }).catch(() => undefined);
const between = (min: number, max: number) => min + Math.random() * (max - min);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Spaces callers at least `1 / perSecond` apart: bounds the argon2 work (register, login) whatever the users do. */
export function createPacer(perSecond: number) {
  let next = 0;
  return async (signal: AbortSignal) => {
    const now = Date.now();
    const at = Math.max(now, next);
    next = at + 1000 / perSecond;
    await sleep(at - now, signal);
  };
}

type Pace = ReturnType<typeof createPacer>;

function tokens(body: string | undefined): { access: string; refresh: string } | undefined {
  if (body === undefined) return undefined;
  const parsed = JSON.parse(body) as { access_token?: string; refresh_token?: string };
  return parsed.access_token && parsed.refresh_token ? { access: parsed.access_token, refresh: parsed.refresh_token } : undefined;
}

export interface UserOptions {
  /** `/authenticate` calls with the login's token before the refresh. */
  authsPerLogin: number;
  /** Wait between logout and the check that the token is refused (revocation propagation in `cached` mode). */
  afterLogoutMs: number;
}

/**
 * One virtual user until `signal` aborts: registers once (unique e-mail), then loops login →
 * several /authenticate → refresh → /authenticate with the new token → logout → /authenticate
 * with both access tokens (401 expected), with think time between steps. After an error it
 * waits a second and starts over with a fresh login. Resolves with the rounds completed.
 */
export async function virtualUser(index: number, rec: Recorder, pace: Pace, options: UserOptions, signal: AbortSignal, onRound: () => void): Promise<number> {
  const [account] = accounts(`soak-user-${index}`, 1);
  let registered = false;
  let rounds = 0;
  let attempt = 0;
  const think = (min: number, max: number) => sleep(between(min, max), signal);
  while (!signal.aborted) {
    if (!registered) {
      await pace(signal);
      if (signal.aborted) break;
      // A new address per attempt: a timed-out register may have created the user after all.
      const email = attempt++ === 0 ? account!.email : account!.email.replace('@', `-retry${attempt}@`);
      registered = tokens(await rec.call('register', 201, 'POST', '/register', {}, { email, password: account!.password })) !== undefined;
      if (registered) account!.email = email;
      else await sleep(1000, signal);
      continue;
    }
    const ok = await round(rec, account!, pace, options, signal, think);
    if (ok) {
      rounds += 1;
      onRound();
    } else if (!signal.aborted) await sleep(1000, signal);
  }
  return rounds;
}

async function round(
  rec: Recorder,
  account: { email: string; password: string },
  pace: Pace,
  options: UserOptions,
  signal: AbortSignal,
  think: (min: number, max: number) => Promise<unknown>,
): Promise<boolean> {
  await pace(signal);
  if (signal.aborted) return false;
  const first = tokens(await rec.call('login', 200, 'POST', '/login', {}, account));
  if (!first) return false;
  for (let i = 0; i < options.authsPerLogin; i++) {
    await think(100, 400);
    if (signal.aborted || (await rec.call('authenticate', 200, 'GET', '/authenticate', bearer(first.access))) === undefined) return false;
  }
  await think(100, 400);
  if (signal.aborted) return false;
  const second = tokens(await rec.call('refresh', 200, 'POST', '/refresh', {}, { refresh_token: first.refresh }));
  if (!second || (await rec.call('authenticate', 200, 'GET', '/authenticate', bearer(second.access))) === undefined) return false;
  await think(100, 400);
  if (signal.aborted || (await rec.call('logout', 204, 'POST', '/logout', bearer(second.access))) === undefined) return false;
  if (options.afterLogoutMs > 0) await sleep(options.afterLogoutMs, signal);
  if (signal.aborted) return false;
  // Both access tokens of the session must now be refused, on whichever instance nginx picks.
  const refused = await Promise.all([first.access, second.access].map((token) => rec.call('authenticate (logged out)', 401, 'GET', '/authenticate', bearer(token))));
  await think(1000, 3000);
  return refused.every((body) => body !== undefined);
}

/**
 * The gateway's pool: `sessions` registered users (one at a time, so at most one argon2 hash
 * runs for it) and `tokens` live access tokens from refreshing their sessions in turn.
 */
export async function gatewayPool(rec: Recorder, sessions: number, size: number) {
  const pool = { refresh: [] as string[], live: [] as string[] };
  const failed = (what: string) => new Error(`gateway pool: ${what} failed: ${JSON.stringify(rec.summary().errors.first.at(-1))}`);
  for (const account of accounts('soak-gateway', sessions)) {
    const session = tokens(await rec.call('register', 201, 'POST', '/register', {}, account));
    if (!session) throw failed('register');
    pool.refresh.push(session.refresh);
    pool.live.push(session.access);
  }
  for (let i = 0; pool.live.length < size; i++) {
    const next = tokens(await rec.call('refresh', 200, 'POST', '/refresh', {}, { refresh_token: pool.refresh[i % sessions]! }));
    if (!next) throw failed('refresh');
    pool.refresh[i % sessions] = next.refresh;
    pool.live.push(next.access);
  }
  return pool;
}

/**
 * Gateway-style load: `lanes` loops sending `/authenticate` round-robin over the pool's live
 * tokens, together at about `rate` req/s (a lane that falls behind does not burst), while one
 * loop refreshes the pool's sessions in turn and replaces the oldest token every second, so
 * no token in the pool gets near its 15-minute expiry.
 */
export async function gateway(rec: Recorder, pool: Awaited<ReturnType<typeof gatewayPool>>, rate: number, lanes: number, signal: AbortSignal) {
  const { refresh, live } = pool;
  let cursor = 0;
  const interval = (1000 * lanes) / rate;
  const lane = async (offset: number) => {
    let next = Date.now() + (offset * interval) / lanes;
    while (!signal.aborted) {
      await sleep(next - Date.now(), signal);
      if (signal.aborted) break;
      next = Math.max(Date.now(), next + interval);
      await rec.call('authenticate (gateway)', 200, 'GET', '/authenticate', bearer(live[cursor++ % live.length]!));
    }
  };
  const rotate = async () => {
    for (let i = 0; !signal.aborted; i++) {
      await sleep(1000, signal);
      if (signal.aborted) break;
      // A failed refresh is already an error (and may have rotated the chain after all): that session leaves the rotation.
      const session = i % refresh.length;
      if (refresh[session] === '') continue;
      const next = tokens(await rec.call('refresh', 200, 'POST', '/refresh', {}, { refresh_token: refresh[session]! }));
      refresh[session] = next?.refresh ?? '';
      if (next) live[i % live.length] = next.access;
    }
  };
  await Promise.all([...Array.from({ length: lanes }, (_, i) => lane(i)), rotate()]);
}
