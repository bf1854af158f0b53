// Refresh-token races (multi-tab, client retries): each round, PARALLEL requests present the
// SAME refresh token at once, spread over the replicas by nginx. The contract: exactly one
// rotation happens, every other request is an in-grace replay answered with the identical
// successor — all 200, all the same refresh token, no session fork, no reuse alarm (401).
// Then the successor must still rotate normally.
//
//   k6 run -e BASE_URL=http://localhost:4000 -e VUS=10 -e PARALLEL=20 -e DURATION=1m k6/refresh-race.js
//
// Env: BASE_URL (default http://localhost:4000), VUS (default 10), PARALLEL (requests per round, default 20),
// DURATION (default 1m), PASSWORD (of every user created; must pass the password policy).
//
// The stack must run with its brute-force limits off (all load comes from one address):
//   export RATE_LIMITS=false && docker compose up --build -d --scale jwt=3
// (and `docker compose --profile load-test run --rm --no-deps k6 …` to run it in the stack;
// without Docker: npm run cluster -- --instances 3 --no-rate-limits)
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate } from 'k6/metrics';
import { BASE_URL, envInt, login, logout, refresh, registerOnce, runId, tokensOf, uniqueEmail } from './lib/api.js';

const PARALLEL = envInt('PARALLEL', 20);

/** 1 per round where every response was 200 with the identical refresh token. */
const consistentRounds = new Rate('refresh_race_consistent');
/** Distinct refresh tokens beyond the first seen in one round: each one is a forked session. */
const forks = new Counter('refresh_race_forks');

/** @type {import('k6/options').Options} */
export const options = {
  // k6 sends at most `batchPerHost` (default 6) requests of one http.batch at a time: all of them, for a real race.
  batch: PARALLEL,
  batchPerHost: PARALLEL,
  scenarios: {
    race: {
      executor: 'constant-vus',
      vus: envInt('VUS', 10),
      duration: __ENV.DURATION || '1m',
    },
  },
  thresholds: {
    refresh_race_consistent: ['rate==1'],
    refresh_race_forks: ['count==0'],
    http_req_failed: ['rate<0.001'],
    checks: ['rate>0.999'],
  },
};

export function setup() {
  return { run: runId() };
}

/** @type {string | null} */
let email = null;

/** @param {ReturnType<typeof setup>} data */
export default function (data) {
  if (email === null) {
    email = registerOnce(uniqueEmail('race', data.run, exec.vu.idInTest));
  }

  const session = tokensOf(login(email));
  if (!check(session, { 'login 200 with tokens': (t) => t !== null }) || session === null) return;

  const body = JSON.stringify({ refresh_token: session.refresh_token });
  const responses = http.batch(
    Array.from({ length: PARALLEL }, () => ({
      method: 'POST',
      url: `${BASE_URL}/refresh`,
      body,
      params: { headers: { 'Content-Type': 'application/json' }, tags: { name: 'refresh-race' } },
    })),
  );

  const successors = new Set();
  let ok = 0;
  for (const res of responses) {
    const tokens = tokensOf(res);
    if (tokens) {
      ok += 1;
      successors.add(tokens.refresh_token);
    }
  }
  const consistent = ok === PARALLEL && successors.size === 1;
  consistentRounds.add(consistent);
  if (successors.size > 1) forks.add(successors.size - 1);
  check(responses, {
    'every racing refresh 200': () => ok === PARALLEL,
    'one identical successor token': () => successors.size === 1,
  });

  const [successor] = successors;
  if (typeof successor !== 'string') return;
  const next = tokensOf(refresh(successor));
  if (!check(next, { 'successor rotates again': (t) => t !== null && t.refresh_token !== successor }) || next === null) return;
  check(logout(next.access_token), { 'logout 204': (r) => r.status === 204 });
}
