import { expect } from 'vitest';
import { PASSWORD, uniqueEmail } from '../helpers/test-app.js';

/** One HTTP exchange with the service under test, and how long it took. */
export interface Exchange {
  status: number;
  headers: Headers;
  body: Record<string, unknown> | null;
  ms: number;
}

/**
 * A JSON request bounded by `timeoutMs` (default 5 s): a request that hangs fails the test with
 * a message naming it, instead of running into the test timeout.
 */
export async function request(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; timeoutMs?: number } = {},
): Promise<Exchange> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const started = performance.now();
  let response: Response;
  let text: string;
  try {
    response = await fetch(`${base}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError') throw new Error(`${method} ${path} hung: no answer within ${timeoutMs} ms`);
    throw error;
  }
  const ms = performance.now() - started;
  let body: Record<string, unknown> | null = null;
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : null;
  } catch {
    body = { raw: text };
  }
  return { status: response.status, headers: response.headers, body, ms };
}

/** The contract's fail-closed answer: 503 `unavailable` with `Retry-After`. */
export function expectUnavailable(response: Exchange, what: string) {
  expect(response.status, `${what}: ${JSON.stringify(response.body)}`).toBe(503);
  expect(response.body?.error, what).toBe('unavailable');
  expect(response.headers.get('retry-after'), what).toMatch(/^\d+$/);
}

/** The parts of a token response the fault tests use. */
export interface Login {
  email: string;
  userId: string;
  sessionId: string;
  accessToken: string;
  refreshToken: string;
}

function tokensOf(exchange: Exchange, email: string, userId: string): Login {
  const body = exchange.body ?? {};
  return {
    email,
    userId,
    sessionId: body.session_id as string,
    accessToken: body.access_token as string,
    refreshToken: body.refresh_token as string,
  };
}

/** Registers a fresh user (services up); throws unless 201. */
export async function register(base: string, email = uniqueEmail()): Promise<Login> {
  const response = await request(base, 'POST', '/register', { body: { email, password: PASSWORD }, timeoutMs: 10_000 });
  if (response.status !== 201) throw new Error(`register failed: ${response.status} ${JSON.stringify(response.body)}`);
  return tokensOf(response, email, (response.body?.user as { id: string }).id);
}

/** Logs an existing user in again (a second session); throws unless 200. */
export async function login(base: string, user: { email: string; userId: string }, password = PASSWORD): Promise<Login> {
  const response = await request(base, 'POST', '/login', { body: { email: user.email, password }, timeoutMs: 10_000 });
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${JSON.stringify(response.body)}`);
  return tokensOf(response, user.email, user.userId);
}

/** `/authenticate` with `token`. */
export const authenticate = (base: string, token: string, timeoutMs?: number) =>
  request(base, 'GET', '/authenticate', { token, timeoutMs });

/** `/refresh` with `refreshToken`. */
export const refresh = (base: string, refreshToken: string, timeoutMs?: number) =>
  request(base, 'POST', '/refresh', { body: { refresh_token: refreshToken }, timeoutMs });

/** Prints one measurement line (vitest shows it with the test), for the fault report. */
export function report(line: string): void {
  console.log(`[faults] ${line}`);
}
