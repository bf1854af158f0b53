// Shared helpers for the k6 scripts: the jwt-cluster HTTP API and test-user pools.
import { check, fail } from 'k6';
import http from 'k6/http';
import exec from 'k6/execution';
import { durationMs } from './duration.js';

/** Where the service (or nginx in front of it) listens; no trailing slash. */
export const BASE_URL = (__ENV.BASE_URL || 'http://localhost:4000').replace(/\/+$/, '');

/**
 * Password of every user these scripts create. A `PASSWORD` of your own must pass the policy:
 * long enough, not a common password, not the e-mail (else setup fails with `weak_password`).
 */
export const PASSWORD = __ENV.PASSWORD || 'k6-load-test-password';

const JSON_HEADERS = { 'Content-Type': 'application/json' };

/**
 * @typedef {object} TokenResponse
 * @property {string} access_token
 * @property {string} token_type
 * @property {number} expires_in
 * @property {string} refresh_token
 * @property {number} refresh_expires_in
 * @property {string} session_id
 */

/**
 * @typedef {object} PoolUser
 * @property {string} email
 * @property {string} access_token
 * @property {number} expires_at ms since the epoch, from the response's `expires_in`
 */

/** How to avoid the brute-force limits' 429s: all of a script's load comes from one address. */
const LIMITS_HINT = 'run the stack with RATE_LIMITS=false (docker compose) or `npm run cluster -- --no-rate-limits`';

/**
 * An e-mail address unique to this test run: `k6-<label>-<run>-<n>@example.test`.
 * @param {string} label
 * @param {string} run from {@link runId}, the same for every VU of a run when taken in setup()
 * @param {number | string} n
 */
export function uniqueEmail(label, run, n) {
  return `k6-${label}-${run}-${n}@example.test`;
}

/** A short id for this run; call it in setup() and pass it to the VUs through the setup data. */
export function runId() {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/**
 * @param {string} path
 * @param {unknown} body
 * @param {import('k6/http').Params} [params]
 */
export function postJson(path, body, params = {}) {
  return http.post(`${BASE_URL}${path}`, JSON.stringify(body), {
    ...params,
    headers: { ...JSON_HEADERS, ...(params.headers || {}) },
  });
}

/** @param {string} accessToken */
export function bearer(accessToken) {
  return { Authorization: `Bearer ${accessToken}` };
}

/**
 * The token response of a 200/201, or null when the status or body is not one.
 * @param {import('k6/http').RefinedResponse<import('k6/http').ResponseType | undefined>} res
 * @returns {TokenResponse | null}
 */
export function tokensOf(res) {
  if (res.status !== 200 && res.status !== 201) return null;
  try {
    const body = /** @type {Partial<TokenResponse> | null} */ (res.json());
    if (body && typeof body.access_token === 'string' && typeof body.refresh_token === 'string') {
      return /** @type {TokenResponse} */ (body);
    }
  } catch (_) {
    // not JSON: fall through
  }
  return null;
}

/**
 * @param {string} email
 * @param {import('k6/http').Params} [params]
 */
export function register(email, params) {
  return postJson('/register', { email, password: PASSWORD, device: 'k6' }, { tags: { name: 'register' }, ...params });
}

/**
 * @param {string} email
 * @param {import('k6/http').Params} [params]
 */
export function login(email, params) {
  return postJson('/login', { email, password: PASSWORD, device: 'k6' }, { tags: { name: 'login' }, ...params });
}

/**
 * A registration retried in a later iteration: if the answer to the one that created the account
 * was lost (a timeout, nginx's 503), the retry gets 409 `email_taken`, which means registered.
 */
const REGISTER_RETRIED = { responseCallback: http.expectedStatuses(201, 409) };

/**
 * Registers `email` for a VU's own use (once per VU); stops the VU's iteration on any answer
 * but 201 or 409.
 * @param {string} email
 * @returns {string} the e-mail
 */
export function registerOnce(email) {
  const res = register(email, REGISTER_RETRIED);
  if (!check(res, { 'register 201 (409: an earlier try created it)': (r) => r.status === 201 || r.status === 409 })) {
    fail(`register: ${res.status} ${String(res.body)}`);
  }
  // The VU logs in afresh each iteration: the session its registration began is not left behind.
  const tokens = tokensOf(res);
  if (tokens) logout(tokens.access_token);
  return email;
}

/**
 * @param {string} refreshToken
 * @param {import('k6/http').Params} [params]
 */
export function refresh(refreshToken, params) {
  return postJson('/refresh', { refresh_token: refreshToken }, { tags: { name: 'refresh' }, ...params });
}

/**
 * GET /authenticate, the gateway hot path.
 * @param {string} accessToken
 * @param {import('k6/http').Params} [params]
 */
export function authenticate(accessToken, params = {}) {
  return http.get(`${BASE_URL}/authenticate`, {
    tags: { name: 'authenticate' },
    ...params,
    headers: { ...bearer(accessToken), ...(params.headers || {}) },
  });
}

/**
 * POST /logout with the access token: ends this session and revokes the token.
 * @param {string} accessToken
 */
export function logout(accessToken) {
  return http.post(`${BASE_URL}/logout`, null, { headers: bearer(accessToken), tags: { name: 'logout' } });
}

/** How much longer than the load the setup's access tokens must live (`assertTokensOutlast`). */
const TOKEN_MARGIN_MS = 30_000;

/** Registrations `registerPool` sends at once. */
const POOL_BATCH = 20;

/**
 * Options a script using `registerPool` spreads into its own: k6 sends at most `batchPerHost`
 * (default 6) requests of one `http.batch` at a time.
 */
export const POOL_BATCH_OPTIONS = { batch: POOL_BATCH, batchPerHost: POOL_BATCH };

/**
 * Registers `count` new users, `batchSize` at a time in parallel (argon2 makes registration
 * slow; run this in setup()). Throws if any registration fails, so a broken setup never
 * turns into a flood of 401s later.
 * @param {string} label
 * @param {string} run
 * @param {number} count
 * @param {number} [batchSize]
 * @returns {PoolUser[]}
 */
export function registerPool(label, run, count, batchSize = POOL_BATCH) {
  /** @type {PoolUser[]} */
  const users = [];
  for (let start = 0; start < count; start += batchSize) {
    /** @type {string[]} */
    const emails = [];
    for (let n = start; n < Math.min(start + batchSize, count); n += 1) emails.push(uniqueEmail(label, run, n));
    const responses = http.batch(
      emails.map((email) => ({
        method: 'POST',
        url: `${BASE_URL}/register`,
        body: JSON.stringify({ email, password: PASSWORD, device: 'k6' }),
        params: { headers: JSON_HEADERS, tags: { name: 'register' } },
      })),
    );
    responses.forEach((res, index) => {
      const tokens = tokensOf(res);
      const email = emails[index];
      if (!tokens || email === undefined) {
        const hint = res.status === 429 ? ` (the brute-force limits refuse this many registrations from one address: ${LIMITS_HINT})` : '';
        throw new Error(`setup: POST /register answered ${res.status}${hint}: ${String(res.body).slice(0, 200)}`);
      }
      users.push({ email, access_token: tokens.access_token, expires_at: Date.now() + tokens.expires_in * 1000 });
    });
  }
  return users;
}

/**
 * A whole number above 0 from env `name`, else `fallback` when it is unset. Anything else set
 * (`0`, `1e3`, `ten`) stops the script with a message instead of quietly running at the default.
 * @param {string} name
 * @param {number} fallback
 */
export function envInt(name, fallback) {
  const text = __ENV[name];
  if (text === undefined || text === '') return fallback;
  if (!/^[1-9][0-9]*$/.test(text)) throw new Error(`env ${name}=${text}: must be a whole number above 0`);
  return Number(text);
}

/**
 * Ends the sessions `users` began in setup (call it from teardown), so a run leaves no live
 * sessions behind in Redis; the users stay (the API cannot delete an account).
 * @param {PoolUser[]} users
 */
export function logoutPool(users) {
  let failed = 0;
  for (let start = 0; start < users.length; start += POOL_BATCH) {
    const responses = http.batch(
      users.slice(start, start + POOL_BATCH).map((user) => ({
        method: 'POST',
        url: `${BASE_URL}/logout`,
        body: null,
        params: { headers: bearer(user.access_token), tags: { name: 'logout' } },
      })),
    );
    failed += responses.filter((res) => res.status !== 204).length;
  }
  if (failed > 0) console.warn(`teardown: ${failed} of ${users.length} logouts failed: their sessions stay until they expire`);
}

/**
 * Ends every session of `users` (call it from teardown after logins piled up sessions on them):
 * each logs in once more and logs out everywhere (`/logout-all`).
 * @param {PoolUser[]} users
 */
export function logoutEverywhere(users) {
  let failed = 0;
  for (let start = 0; start < users.length; start += POOL_BATCH) {
    const batch = users.slice(start, start + POOL_BATCH);
    const logins = http.batch(
      batch.map((user) => ({
        method: 'POST',
        url: `${BASE_URL}/login`,
        body: JSON.stringify({ email: user.email, password: PASSWORD }),
        params: { headers: JSON_HEADERS, tags: { name: 'login' } },
      })),
    );
    /** @type {string[]} */
    const tokens = [];
    for (const res of logins) {
      const answer = tokensOf(res);
      if (answer) tokens.push(answer.access_token);
    }
    failed += batch.length - tokens.length;
    const ends = http.batch(tokens.map((token) => ({ method: 'POST', url: `${BASE_URL}/logout-all`, body: null, params: { headers: bearer(token), tags: { name: 'logout-all' } } })));
    failed += ends.filter((res) => res.status !== 204).length;
  }
  if (failed > 0) console.warn(`teardown: ${failed} of ${users.length} users could not log out everywhere: their sessions stay until they expire`);
}

/**
 * Stops the script in setup when k6 runs it without its own scenarios: k6's `-d`, `-u` or `-i`
 * replace every scenario with one `default` one, and thresholds filtered by `scenario` then see
 * no samples and pass. Use `-e DURATION=… -e VUS=…` instead.
 * @param {string[]} names the script's scenarios
 */
export function assertOwnScenarios(names) {
  const scenarios = exec.test.options.scenarios || {};
  const missing = names.filter((name) => !(name in scenarios));
  if (missing.length > 0) {
    throw new Error(`setup: scenario ${missing.join(', ')} is not running: give durations and VUs with -e DURATION=… -e VUS=…, not k6's -d/-u/-i (they replace the script's scenarios)`);
  }
}

/**
 * Throws (which stops the test in setup) when `duration` of load would outlast the access tokens
 * of `users`: every request after their expiry would be a 401, failing the thresholds for the
 * wrong reason. Nothing refreshes them: users are shared by VUs, and a refresh token presented
 * again by another VU after the rotation's grace reads as reuse and ends the session.
 * @param {PoolUser[]} users
 * @param {string} duration
 */
export function assertTokensOutlast(users, duration) {
  const firstExpiry = users.reduce((first, user) => Math.min(first, user.expires_at), Infinity);
  const left = firstExpiry - Date.now();
  // With a margin: `expires_at` is read on this machine's clock, after the response's trip.
  if (left < durationMs(duration) + TOKEN_MARGIN_MS) {
    throw new Error(`setup: the access tokens issued in setup must outlast DURATION ${duration} by ${TOKEN_MARGIN_MS / 1000} s (${Math.floor(left / 1000)} s left): shorten DURATION or raise auth.access_lifetime for this run`);
  }
}
