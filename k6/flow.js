// The whole token life cycle with distinct users: every VU registers its own user once, then
// each iteration runs login → authenticate → refresh → authenticate (new token) → logout →
// authenticate (now revoked, must be 401). Through nginx the steps land on different replicas,
// so this also checks that the cluster behaves as one service.
//
//   k6 run -e BASE_URL=http://localhost:4000 -e VUS=20 -e DURATION=2m k6/flow.js
//
// Env: BASE_URL (default http://localhost:4000), VUS (default 20), DURATION (default 1m),
// PASSWORD (of every user created; must pass the password policy).
//
// The stack must run with its brute-force limits off (all load comes from one address):
//   export RATE_LIMITS=false && docker compose up --build -d --scale jwt=3
// (and `docker compose --profile load-test run --rm --no-deps k6 …` to run it in the stack;
// without Docker: npm run cluster -- --instances 3 --no-rate-limits)
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { authenticate, envInt, login, logout, refresh, registerOnce, runId, tokensOf, uniqueEmail } from './lib/api.js';

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    flow: {
      executor: 'constant-vus',
      vus: envInt('VUS', 20),
      duration: __ENV.DURATION || '1m',
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.001'],
    checks: ['rate>0.999'],
    'http_req_duration{name:authenticate}': ['p(95)<50'],
    'http_req_duration{name:refresh}': ['p(95)<100'],
    'http_req_duration{name:logout}': ['p(95)<100'],
    // argon2 by design: hundreds of milliseconds under load are expected.
    'http_req_duration{name:login}': ['p(95)<1500'],
  },
};

/** The revoked-token probe expects 401; without this it would count as a failed request. */
const EXPECT_401 = { responseCallback: http.expectedStatuses(401), tags: { name: 'authenticate-revoked' } };

export function setup() {
  return { run: runId() };
}

/** Per VU (each VU has its own module state): the user registered in its first iteration. */
/** @type {string | null} */
let email = null;

/** @param {ReturnType<typeof setup>} data */
export default function (data) {
  if (email === null) {
    email = registerOnce(uniqueEmail('flow', data.run, exec.vu.idInTest));
  }

  const session = tokensOf(login(email));
  if (!check(session, { 'login 200 with tokens': (t) => t !== null }) || session === null) return;

  check(authenticate(session.access_token), { 'authenticate 200': (r) => r.status === 200 });

  const rotated = tokensOf(refresh(session.refresh_token));
  if (!check(rotated, { 'refresh 200 with tokens': (t) => t !== null }) || rotated === null) return;
  check(rotated, { 'refresh keeps the session': (t) => t.session_id === session.session_id });

  check(authenticate(rotated.access_token), { 'authenticate (refreshed) 200': (r) => r.status === 200 });

  check(logout(rotated.access_token), { 'logout 204': (r) => r.status === 204 });

  const revoked = authenticate(rotated.access_token, EXPECT_401);
  check(revoked, {
    'authenticate after logout 401': (r) => r.status === 401,
    'WWW-Authenticate invalid_token': (r) => String(r.headers['Www-Authenticate'] || '').includes('invalid_token'),
  });
}
