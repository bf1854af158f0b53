/** Users, sessions and tokens created through the service's own API before anything is measured. */

export interface Account {
  email: string;
  password: string;
}

/** One live session, with the claims the bench needs to sign more tokens for it. */
export interface Session {
  userId: string;
  sessionId: string;
  tokenVersion: number;
  roles: string[];
  accessToken: string;
  refreshToken: string;
}

interface TokenResponse {
  access_token: string;
  refresh_token: string;
  session_id: string;
}

const PASSWORD = 'bench password that is long enough';

/** `count` distinct accounts whose e-mails start with `label`. */
export function accounts(label: string, count: number): Account[] {
  const run = Date.now().toString(36);
  return Array.from({ length: count }, (_, i) => ({ email: `${label}-${i}-${run}@bench.example`, password: PASSWORD }));
}

async function call(url: string, path: string, body: unknown, expected: number): Promise<unknown> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (response.status !== expected) throw new Error(`POST ${path}: expected ${expected}, got ${response.status} ${text.slice(0, 200)}`);
  return JSON.parse(text) as unknown;
}

/** The claims of a JWT, unverified: the bench only reads back what the service just issued. */
export function jwtClaims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function toSession(value: unknown): Session {
  const response = value as TokenResponse;
  const claims = jwtClaims(response.access_token);
  return {
    userId: String(claims.sub),
    sessionId: String(claims.sid),
    tokenVersion: Number(claims.tv),
    roles: (claims.roles as string[] | undefined) ?? [],
    accessToken: response.access_token,
    refreshToken: response.refresh_token,
  };
}

export const register = async (url: string, account: Account) => toSession(await call(url, '/register', account, 201));
export const login = async (url: string, account: Account) => toSession(await call(url, '/login', account, 200));
export const refresh = async (url: string, refreshToken: string) =>
  toSession(await call(url, '/refresh', { refresh_token: refreshToken }, 200));

/** Runs `task` over `items` with at most `limit` at once, keeping order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/**
 * `size` distinct live access tokens: each session's own, then more from refreshing every
 * session in turn (a refresh issues a new access token and leaves the earlier ones valid).
 * Returns the tokens and the sessions with their latest refresh tokens.
 */
export async function tokenPool(url: string, sessions: Session[], size: number): Promise<{ tokens: string[]; sessions: Session[] }> {
  const tokens = sessions.map((session) => session.accessToken);
  const perSession = Math.ceil((size - tokens.length) / sessions.length);
  const latest = await mapLimit(sessions, 8, async (session) => {
    let current = session;
    for (let i = 0; i < perSession; i++) {
      current = await refresh(url, current.refreshToken);
      tokens.push(current.accessToken);
    }
    return current;
  });
  return { tokens: tokens.slice(0, size), sessions: latest };
}
