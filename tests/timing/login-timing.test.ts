import { beforeAll, describe, expect, it } from 'vitest';
import { nextClientIp } from '../helpers/authenticate-client.js';
import { PASSWORD, testCluster, uniqueEmail, type TestInstance } from '../helpers/test-app.js';

/**
 * No user enumeration by timing (OWASP Authentication Cheat Sheet): a login with an unknown
 * e-mail costs the same as one with a known e-mail and a wrong password — both one argon2
 * verify. Real HTTP, strictly interleaved pairs in ABBA order (drift cancels), after a warm-up,
 * compared by medians. Every attempt uses a fresh account and a fresh client address, so no
 * brute-force counter or back-off ever touches the measurement.
 *
 * A measurement, so not part of `npm test` (which makes no timed assertions): `npm run
 * test:timing`, which `.ci/run` runs as a report. `npm test` checks the cause instead: both
 * paths run the same argon2 verifies (tests/unit/passwords.test.ts, tests/http/core.test.ts).
 */

const WARM_UP_PAIRS = 10;
/** Pairs measured at least, at most, and per round: rounds go on until the estimate is precise. */
const MIN_PAIRS = 150;
const MAX_PAIRS = 600;
const ROUND_PAIRS = 50;
/** Stop once the ratio's standard error is this small (the 10% bound is then ≥ 4 standard errors away from 1). */
const TARGET_STANDARD_ERROR = 0.025;
const MEASURING_BUDGET_MS = 60_000;
const WRONG_PASSWORD = 'wrong horse battery staple';

let app: TestInstance;
let known: string[];

beforeAll(async () => {
  // The production limits on, as deployed: their bookkeeping is part of what a login costs.
  app = await (await testCluster({ limits: { enabled: true } })).start();
  // Created directly (one hash, reused): /register's own limits play no part in this test.
  const passwordHash = await app.deps.hasher.hash(PASSWORD);
  known = await Promise.all(
    Array.from({ length: WARM_UP_PAIRS + MAX_PAIRS }, async () => {
      const email = uniqueEmail();
      if (!(await app.deps.users.create({ email, passwordHash }))) throw new Error('could not create a user');
      return email;
    }),
  );
}, 120_000);

/** One failed login; returns its wall time in milliseconds. */
async function timedFailedLogin(email: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${app.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': nextClientIp() },
    body: JSON.stringify({ email, password: WRONG_PASSWORD }),
  });
  const body = (await response.json()) as { error?: string };
  const elapsed = performance.now() - started;
  expect({ status: response.status, error: body.error }).toEqual({ status: 401, error: 'invalid_credentials' });
  return elapsed;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

/**
 * Interleaved known/unknown attempts in ABBA order, one pair per known account. Sequential on
 * purpose: two logins at once would race for the argon2 slot, and the miss (a faster lookup)
 * would win it more often.
 */
async function measure(accounts: string[], knownTimes: number[] = [], unknownTimes: number[] = []) {
  for (const [index, account] of accounts.entries()) {
    if (index % 2 === 0) {
      knownTimes.push(await timedFailedLogin(account));
      unknownTimes.push(await timedFailedLogin(uniqueEmail()));
    } else {
      unknownTimes.push(await timedFailedLogin(uniqueEmail()));
      knownTimes.push(await timedFailedLogin(account));
    }
  }
  return { knownTimes, unknownTimes };
}

const ratioOfMedians = (known: number[], unknown: number[]) => median(unknown) / median(known);

/** Standard error of the ratio of medians: a paired bootstrap with a fixed seed (reproducible). */
function standardError(known: number[], unknown: number[], resamples = 300): number {
  let seed = 0x2545f491;
  const random = () => ((seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32);
  const ratios = Array.from({ length: resamples }, () => {
    const picks = known.map(() => Math.floor(random() * known.length));
    return ratioOfMedians(picks.map((i) => known[i] ?? 0), picks.map((i) => unknown[i] ?? 0));
  });
  const mean = ratios.reduce((sum, value) => sum + value, 0) / ratios.length;
  return Math.sqrt(ratios.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (ratios.length - 1));
}

describe('login timing: unknown e-mail vs known e-mail with a wrong password', () => {
  it('medians are within 10% (interleaved pairs, more of them while the machine is noisy)', async () => {
    await measure(known.slice(0, WARM_UP_PAIRS));
    const started = performance.now();
    const samples = { knownTimes: [] as number[], unknownTimes: [] as number[] };
    let used = WARM_UP_PAIRS;
    let error = Number.POSITIVE_INFINITY;
    // The stopping rule looks only at precision, never at the ratio itself, so it cannot favour a pass.
    while (samples.knownTimes.length < MAX_PAIRS && (samples.knownTimes.length < MIN_PAIRS || error > TARGET_STANDARD_ERROR)) {
      if (samples.knownTimes.length >= MIN_PAIRS && performance.now() - started > MEASURING_BUDGET_MS) break;
      await measure(known.slice(used, used + ROUND_PAIRS), samples.knownTimes, samples.unknownTimes);
      used += ROUND_PAIRS;
      error = standardError(samples.knownTimes, samples.unknownTimes);
    }
    const result = {
      pairs: samples.knownTimes.length,
      known: Number(median(samples.knownTimes).toFixed(2)),
      unknown: Number(median(samples.unknownTimes).toFixed(2)),
      ratio: Number(ratioOfMedians(samples.knownTimes, samples.unknownTimes).toFixed(3)),
      standardError: Number(error.toFixed(3)),
    };
    console.info(`login timing: ${JSON.stringify(result)}`);
    expect(result).toEqual({ ...result, ratio: expect.toSatisfy((ratio: number) => ratio >= 0.9 && ratio <= 1.1) });
  }, 180_000);
});
