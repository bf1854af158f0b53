// Shared helpers for the k6 scripts: the jwt-cluster HTTP API and test-user pools.
import http from 'k6/http';

/** Where the service (or nginx in front of it) listens; no trailing slash. */
export const BASE_URL = (__ENV.BASE_URL || 'http://localhost:4000').replace(/\/+$/, '');

/** Password of every user these scripts create (the policy only checks length). */
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
 */

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
        const hint = res.status === 429 ? ' (the brute-force limits refuse this many registrations from one address: run the stack with RATE_LIMITS=false)' : '';
        throw new Error(`setup: POST /register answered ${res.status}${hint}: ${String(res.body).slice(0, 200)}`);
      }
      users.push({ email, access_token: tokens.access_token });
    });
  }
  return users;
}

/**
 * An integer from env `name`, else `fallback`.
 * @param {string} name
 * @param {number} fallback
 */
export function envInt(name, fallback) {
  const value = Number.parseInt(__ENV[name] || '', 10);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}
