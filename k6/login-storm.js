// Login storm: a constant arrival rate of logins (argon2 on every one) for existing users,
// while a second scenario keeps calling GET /authenticate. Expected: when the password
// hashers are saturated the service sheds logins with 503 + Retry-After (never 500/502,
// never a hang), and the /authenticate hot path stays fast because it never hashes.
//
//   k6 run -e BASE_URL=http://localhost:4000 -e LOGIN_RATE=300 -e DURATION=1m k6/login-storm.js
//
// The stack must run with its brute-force limits off (all load comes from one address):
//   export RATE_LIMITS=false && docker compose up --build -d --scale jwt=3
// (and `docker compose --profile load-test run --rm --no-deps k6 …` to run it in the stack;
// without Docker: npm run cluster -- --instances 3 --no-rate-limits)
//
// Env: BASE_URL (default http://localhost:4000), LOGIN_RATE (logins/s, default 200), AUTH_RATE
// (authenticate/s, default 500), POOL (login users, default 50), AUTH_POOL (authenticate users,
// default 50), DURATION (default 1m; setup refuses one the authenticate pool's tokens do not
// outlast by 30 s), PASSWORD (of every user created; must pass the password policy). Give them with -e,
// never k6's -d/-u/-i (those replace the script's scenarios; setup refuses). Teardown ends every
// session the run began; its k6-storm-* users stay (the API cannot delete an account).
// The authenticate thresholds assume k6 runs on cores of its own, not beside the instances.
// The two pools are separate: piling logins on one user ends its oldest sessions
// (auth.max_sessions), which must not revoke the tokens the authenticate scenario uses.
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { Rate } from 'k6/metrics';
import { assertOwnScenarios, assertTokensOutlast, authenticate, envInt, login, logoutEverywhere, logoutPool, POOL_BATCH_OPTIONS, registerPool, runId } from './lib/api.js';

const DURATION = __ENV.DURATION || '1m';
const LOGIN_RATE = envInt('LOGIN_RATE', 200);
const AUTH_RATE = envInt('AUTH_RATE', 500);

/** Share of logins shed with 503 + Retry-After (a storm beyond capacity sheds; see the threshold). */
const shed = new Rate('login_shed');

/** @type {import('k6/options').Options} */
export const options = {
  setupTimeout: '5m',
  // Teardown logs every login user in once more (argon2, as the registrations in setup).
  teardownTimeout: '5m',
  ...POOL_BATCH_OPTIONS,
  scenarios: {
    logins: {
      executor: 'constant-arrival-rate',
      exec: 'logins',
      rate: LOGIN_RATE,
      timeUnit: '1s',
      duration: DURATION,
      // A login waits up to about a second in a full queue (measured: 1.25 s at most): VUs for 2 s of
      // logins in flight from the start, more up to 5 s (k6 starts those during the test and
      // drops the iterations that find none free meanwhile: dropped_iterations below).
      preAllocatedVUs: 2 * LOGIN_RATE,
      maxVUs: Math.max(1000, 5 * LOGIN_RATE),
    },
    authenticate: {
      executor: 'constant-arrival-rate',
      exec: 'authenticateLoop',
      rate: AUTH_RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: Math.max(20, Math.ceil(AUTH_RATE / 25)),
      maxVUs: Math.max(200, AUTH_RATE),
    },
  },
  thresholds: {
    // No 503 counts as a failed request (LOGIN_EXPECTED); the check fails any but shedding (shedForLoad).
    'http_req_failed{scenario:logins}': ['rate<0.001'],
    'checks{scenario:logins}': ['rate>0.999'],
    // The hot path under a login storm.
    'http_req_failed{scenario:authenticate}': ['rate<0.001'],
    'http_req_duration{scenario:authenticate}': ['p(95)<50', 'p(99)<100'],
    'checks{scenario:authenticate}': ['rate>0.999'],
    // Shedding is a safety valve: a storm beyond capacity sheds most logins, but a service that
    // let through fewer than 1 in 10 would not be logging anyone in.
    login_shed: ['rate<0.9'],
    // The load asked for was sent: k6 drops iterations that find no free VU, quietly lowering the rate.
    dropped_iterations: ['count==0'],
  },
};

const LOGIN_EXPECTED = { responseCallback: http.expectedStatuses(200, 503) };

export function setup() {
  assertOwnScenarios(['logins', 'authenticate']);
  const run = runId();
  const loginUsers = registerPool('storm', run, envInt('POOL', 50));
  const authUsers = registerPool('storm-auth', run, envInt('AUTH_POOL', 50));
  assertTokensOutlast(authUsers, DURATION);
  return { loginUsers, authUsers };
}

/** @param {ReturnType<typeof setup>} data */
export function teardown(data) {
  logoutPool(data.authUsers);
  // The storm's logins piled sessions on these users (up to auth.max_sessions each).
  logoutEverywhere(data.loginUsers);
}

/**
 * A login the service shed for load: its own 503 (it names its instance; nginx's answer for a
 * replica that is down or stalled names none) saying the password hashers are full. A 503 for a Redis or
 * PostgreSQL outage is a failure here, not shedding.
 * @param {import('k6/http').RefinedResponse<import('k6/http').ResponseType | undefined>} r
 */
function shedForLoad(r) {
  return (
    r.status === 503 &&
    Boolean(r.headers['Retry-After']) &&
    Boolean(r.headers['X-Instance-Id']) &&
    String(r.body).includes('too many password checks in progress')
  );
}

/** @param {ReturnType<typeof setup>} data */
export function logins(data) {
  const user = data.loginUsers[exec.scenario.iterationInTest % data.loginUsers.length];
  if (!user) throw new Error('empty login pool');
  const res = login(user.email, LOGIN_EXPECTED);
  const wasShed = shedForLoad(res);
  shed.add(wasShed);
  check(res, { 'login 200, or shed for load (503 + Retry-After)': (r) => r.status === 200 || wasShed });
}

/** @param {ReturnType<typeof setup>} data */
export function authenticateLoop(data) {
  const user = data.authUsers[exec.scenario.iterationInTest % data.authUsers.length];
  if (!user) throw new Error('empty authenticate pool');
  check(authenticate(user.access_token), { 'authenticate 200': (r) => r.status === 200 });
}
