import type { Account, Session } from '../fixtures.js';
import type { LoadWorker } from '../load/driver.js';
import type { SigningSetup } from '../load/jobs.js';
import type { Server, ServiceEnv } from '../service.js';

/** How long and how often: `--quick` or the full set. */
export interface Plan {
  name: 'quick' | 'full';
  repetitions: number;
  /** Each `/refresh` run. */
  loadMs: number;
  /**
   * The closed-loop throughput rows (a, a′, b, c) run in short slices, one of each in turn, so
   * that a slow spell of a shared machine hits all four alike; each slice is one sample.
   */
  sliceMs: number;
  slices: number;
  /** Each paced run of a@50%, a@80%, b@50% and c@80% (wrk counts whole seconds). */
  pacedMs: number;
  /** Each cold-token run (tokens are signed for it beforehand, so it is kept shorter). */
  coldMs: number;
  stormMs: number;
  /** Each verify / sign ceiling. */
  ceilingMs: number;
  argon2Ms: number;
  revocations: number;
  /** Connections of the closed-loop runs. */
  connections: number;
  /**
   * Unrecorded runs that compile code before it is measured (a slice of each bound, a storm of
   * half the length); the quick run skips them to stay under a minute, so its d1, f1 and e are colder.
   */
  warmUps: boolean;
}

export const PLANS: Record<Plan['name'], Plan> = {
  quick: { name: 'quick', repetitions: 1, loadMs: 2_000, sliceMs: 750, slices: 3, pacedMs: 1_000, coldMs: 2_000, stormMs: 3_000, ceilingMs: 1_000, argon2Ms: 2_000, revocations: 50, connections: 32, warmUps: false },
  full: { name: 'full', repetitions: 3, loadMs: 4_000, sliceMs: 2_000, slices: 3, pacedMs: 1_000, coldMs: 4_000, stormMs: 10_000, ceilingMs: 2_000, argon2Ms: 3_000, revocations: 200, connections: 32, warmUps: true },
};

/** Everything the scenarios share, set up once. */
export interface BenchContext {
  plan: Plan;
  env: ServiceEnv;
  signing: SigningSetup;
  worker: LoadWorker;
  bare: Server;
  /** node:http answering what a valid `/authenticate` answers, with no logic behind it. */
  shaped: Server;
  /** node:http with one HTTP exchange around d0's verify / f0's sign and nothing else: d's and f's bounds. */
  verifyBound: Server;
  signBound: Server;
  /** Pinned instances of the service, one per revocation mode. */
  exact: Server;
  cached: Server;
  /** Users whose sessions back the token pool. */
  poolAccounts: Account[];
  /** Live sessions (latest refresh tokens) of the pool users. */
  poolSessions: Session[];
  /** 1,000 distinct live access tokens. */
  tokens: string[];
  /** Users only the login storm logs in (it evicts their oldest sessions). */
  stormAccounts: Account[];
}
