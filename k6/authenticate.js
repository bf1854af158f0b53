// The gateway pattern: a pool of logged-in users, GET /authenticate on every request.
//
//   k6 run k6/authenticate.js                                   # against http://localhost:4000
//   k6 run -e BASE_URL=http://localhost:4000 -e POOL=500 -e VUS=100 -e DURATION=5m k6/authenticate.js
//
// The stack must run with its brute-force limits off (all load comes from one address):
//   export RATE_LIMITS=false && docker compose up --build -d --scale jwt=3
// (and `docker compose --profile load-test run --rm --no-deps k6 …` to run it in the stack;
// without Docker: npm run cluster -- --instances 3 --no-rate-limits)
//
// Env: BASE_URL (default http://localhost:4000), POOL (users registered in setup, default 200),
// VUS (default 50), DURATION (default 1m; setup refuses one the tokens it got, auth.access_lifetime,
// do not outlast by 30 s), PASSWORD (of every user created; must pass the password policy).
// Give them with -e, never k6's -d/-u/-i (those replace the script's scenario; setup refuses).
// Teardown logs the pool out; its k6-auth-* users stay (the API cannot delete an account).
import { check } from 'k6';
import exec from 'k6/execution';
import { assertOwnScenarios, assertTokensOutlast, authenticate, envInt, logoutPool, POOL_BATCH_OPTIONS, registerPool, runId } from './lib/api.js';

const POOL = envInt('POOL', 200);
const DURATION = __ENV.DURATION || '1m';

/** @type {import('k6/options').Options} */
export const options = {
  setupTimeout: '5m',
  teardownTimeout: '5m',
  ...POOL_BATCH_OPTIONS,
  scenarios: {
    authenticate: {
      executor: 'constant-vus',
      vus: envInt('VUS', 50),
      duration: DURATION,
    },
  },
  // Only the scenario's requests count: setup() registrations are not the hot path.
  thresholds: {
    'http_req_failed{scenario:authenticate}': ['rate<0.001'],
    'http_req_duration{scenario:authenticate}': ['p(95)<50', 'p(99)<100'],
    'checks{scenario:authenticate}': ['rate>0.999'],
  },
};

export function setup() {
  assertOwnScenarios(['authenticate']);
  const users = registerPool('auth', runId(), POOL);
  assertTokensOutlast(users, DURATION);
  return { users };
}

/** @param {ReturnType<typeof setup>} data */
export function teardown(data) {
  logoutPool(data.users);
}

/** @param {ReturnType<typeof setup>} data */
export default function (data) {
  const user = data.users[exec.scenario.iterationInTest % data.users.length];
  if (!user) throw new Error('empty user pool');
  const res = authenticate(user.access_token);
  check(res, {
    'authenticate 200': (r) => r.status === 200,
    'X-User-Id present': (r) => Boolean(r.headers['X-User-Id']),
  });
}
