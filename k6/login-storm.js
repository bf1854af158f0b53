// Login storm: a constant arrival rate of logins (argon2 on every one) for existing users,
// while a second scenario keeps calling GET /authenticate. Expected: when the password
// hashers are saturated the service sheds logins with 503 + Retry-After (never 500/502,
// never a hang), and the /authenticate hot path stays fast because it never hashes.
//
//   k6 run -e BASE_URL=http://localhost:4000 -e LOGIN_RATE=300 -e DURATION=1m k6/login-storm.js
//
// The stack must run with its brute-force limits off (all load comes from one address):
//   export RATE_LIMITS=false && docker compose up --build -d --scale jwt=3
// (and `docker compose --profile load-test run --rm --no-deps k6 …` to run it in the stack)
//
// Env: LOGIN_RATE (logins/s, default 200), AUTH_RATE (authenticate/s, default 500),
// POOL (login users, default 50), AUTH_POOL (authenticate users, default 50), DURATION.
// The two pools are separate: piling logins on one user ends its oldest sessions
// (auth.max_sessions), which must not revoke the tokens the authenticate scenario uses.
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { Rate } from 'k6/metrics';
import { authenticate, envInt, login, POOL_BATCH_OPTIONS, registerPool, runId } from './lib/api.js';

const DURATION = __ENV.DURATION || '1m';

/** Share of logins shed with 503 + Retry-After: informative, not a failure. */
const shed = new Rate('login_shed');

/** @type {import('k6/options').Options} */
export const options = {
  setupTimeout: '5m',
  ...POOL_BATCH_OPTIONS,
  scenarios: {
    logins: {
      executor: 'constant-arrival-rate',
      exec: 'logins',
      rate: envInt('LOGIN_RATE', 200),
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: 50,
      maxVUs: 1000,
    },
    authenticate: {
      executor: 'constant-arrival-rate',
      exec: 'authenticateLoop',
      rate: envInt('AUTH_RATE', 500),
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: 20,
      maxVUs: 200,
    },
  },
  thresholds: {
    // 503 + Retry-After is expected shedding (see LOGIN_EXPECTED); anything else fails.
    'http_req_failed{scenario:logins}': ['rate<0.001'],
    'checks{scenario:logins}': ['rate>0.999'],
    // The hot path under a login storm.
    'http_req_failed{scenario:authenticate}': ['rate<0.001'],
    'http_req_duration{scenario:authenticate}': ['p(95)<50', 'p(99)<100'],
    'checks{scenario:authenticate}': ['rate>0.999'],
    // Shedding is a safety valve, not the normal answer.
    login_shed: ['rate<0.9'],
  },
};

const LOGIN_EXPECTED = { responseCallback: http.expectedStatuses(200, 503) };

export function setup() {
  const run = runId();
  return {
    loginUsers: registerPool('storm', run, envInt('POOL', 50)),
    authUsers: registerPool('storm-auth', run, envInt('AUTH_POOL', 50)),
  };
}

/** @param {ReturnType<typeof setup>} data */
export function logins(data) {
  const user = data.loginUsers[exec.scenario.iterationInTest % data.loginUsers.length];
  if (!user) throw new Error('empty login pool');
  const res = login(user.email, LOGIN_EXPECTED);
  const wasShed = res.status === 503;
  shed.add(wasShed);
  check(res, {
    'login 200, or 503 with Retry-After': (r) => r.status === 200 || (r.status === 503 && Boolean(r.headers['Retry-After'])),
  });
}

/** @param {ReturnType<typeof setup>} data */
export function authenticateLoop(data) {
  const user = data.authUsers[exec.scenario.iterationInTest % data.authUsers.length];
  if (!user) throw new Error('empty authenticate pool');
  check(authenticate(user.access_token), { 'authenticate 200': (r) => r.status === 200 });
}
