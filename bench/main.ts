/**
 * `npm run bench [-- --quick]`: starts throwaway Redis and PostgreSQL, a bare node:http
 * baseline and the service (compiled, pinned to one core), drives them from a load generator
 * pinned to the other core, prints a table of every scenario against its baseline from the
 * same run, and writes bench/results.json. Exits 0 whether or not targets are met.
 */
import { join } from 'node:path';
import { REPO_ROOT } from '../scripts/cluster/build.js';
import type { CleanupStack } from '../scripts/cluster/cleanup.js';
import { accounts, mapLimit, register } from './fixtures.js';
import { startLoadWorker } from './load/driver.js';
import { hasWrk } from './load/wrk.js';
import { machineInfo, SERVER_CPU } from './machine.js';
import { buildRows, formatTable, type Series, writeResults } from './report.js';
import { type BenchContext, type Plan, PLANS } from './scenarios/context.js';
import { argon2Ceiling, loginsAlone, loginStorm, pacedFloor, stormBeside } from './scenarios/login-storm.js';
import { revocationPropagation } from './scenarios/propagation.js';
import { refreshRate, signCeiling } from './scenarios/refresh.js';
import { atLoad, bare, cold, gateway, verifyCeiling } from './scenarios/throughput.js';
import { startBareServer, startService } from './service.js';
import { UsageError } from '../src/util/cli-args.js';
import { runMain } from './run-main.js';
import { makePool, startStack } from './stack.js';
import { median } from './stats.js';

const POOL_USERS = 20;
const POOL_TOKENS = 1_000;
const STORM_USERS = 10;

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

async function setUp(plan: Plan, cleanup: CleanupStack): Promise<BenchContext> {
  const { env, signing } = await startStack(cleanup, log);
  log(`starting the baseline and the service (exact, cached) on cpu ${SERVER_CPU}, and the load generator`);
  const bareServer = await startBareServer(env.dir, SERVER_CPU);
  cleanup.add(() => bareServer.stop());
  const shaped = await startBareServer(env.dir, SERVER_CPU, 'shaped');
  cleanup.add(() => shaped.stop());
  const verifyBound = await startBareServer(env.dir, SERVER_CPU, 'verify', signing);
  cleanup.add(() => verifyBound.stop());
  const signBound = await startBareServer(env.dir, SERVER_CPU, 'sign', signing);
  cleanup.add(() => signBound.stop());
  const exact = await startService(env, 'exact', 'exact', SERVER_CPU);
  cleanup.add(() => exact.stop());
  const cached = await startService(env, 'cached', 'cached', SERVER_CPU);
  cleanup.add(() => cached.stop());
  const worker = await startLoadWorker();
  cleanup.add(() => worker.stop());

  log(`registering ${POOL_USERS + STORM_USERS} users and making ${POOL_TOKENS} live tokens`);
  const pool = await makePool(exact.url, POOL_USERS, POOL_TOKENS);
  const stormAccounts = accounts('storm', STORM_USERS);
  await mapLimit(stormAccounts, 4, (account) => register(exact.url, account));
  return {
    plan,
    env,
    signing,
    worker,
    bare: bareServer,
    shaped,
    verifyBound,
    signBound,
    exact,
    cached,
    poolAccounts: pool.accounts,
    poolSessions: pool.sessions,
    tokens: pool.tokens,
    stormAccounts,
  };
}

/** Every scenario, interleaved per repetition so that drift on a shared machine hits them alike. */
async function measureAll(ctx: BenchContext) {
  const series: Series = { bare: [], shaped: [], exact: [], cached: [], bareAt50: [], bareAt80: [], exactAt50: [], cachedAt80: [], verify: [], verifyBound: [], coldExact: [], coldCached: [], argon2: [], loginsAlone: [], loginsBeside: [], logins: [], stormAuth: [], pacedFloor: [], stormFloor: [], sign: [], signBound: [], refresh: [] };
  const { plan } = ctx;
  // The bounds run nothing before their first slice: a slice of each, unrecorded, compiles their code.
  if (plan.warmUps) {
    log('warming up the bounds d1 and f1 (not recorded)');
    await gateway(ctx, ctx.verifyBound);
    await refreshRate(ctx, ctx.signBound);
  }
  for (let rep = 1; rep <= plan.repetitions; rep++) {
    const round = `round ${rep}/${plan.repetitions}`;
    log(`${round}: a (bare), a′ (shaped), b (exact), c (cached) in turn, ${plan.slices} slices of ${plan.sliceMs / 1000} s each`);
    for (let slice = 0; slice < plan.slices; slice++) {
      series.bare.push(await bare(ctx));
      series.shaped.push(await gateway(ctx, ctx.shaped));
      series.exact.push(await gateway(ctx, ctx.exact));
      series.cached.push(await gateway(ctx, ctx.cached));
    }
    const bareRate = median(series.bare.slice(-plan.slices).map((s) => s.rps));
    log(`${round}: b and c's p99 at their target loads, paced: exact and bare at 50% of a (${Math.round(bareRate * 0.5)} req/s), cached and bare at 80%`);
    series.bareAt50.push(await atLoad(ctx, ctx.bare, 0.5, bareRate));
    series.exactAt50.push(await atLoad(ctx, ctx.exact, 0.5, bareRate));
    series.cachedAt80.push(await atLoad(ctx, ctx.cached, 0.8, bareRate));
    series.bareAt80.push(await atLoad(ctx, ctx.bare, 0.8, bareRate));
    log(`${round}: d. cold tokens (verify ceiling, its bound with HTTP, then exact and cached)`);
    const verify = await verifyCeiling(ctx);
    series.verify.push(verify);
    series.verifyBound.push(await gateway(ctx, ctx.verifyBound));
    series.coldExact.push(await cold(ctx, ctx.exact, verify.rps));
    series.coldCached.push(await cold(ctx, ctx.cached, verify.rps));
    log(`${round}: f. /refresh (sign ceiling, its bound with HTTP, then refresh chains)`);
    series.sign.push(await signCeiling(ctx));
    series.signBound.push(await refreshRate(ctx, ctx.signBound));
    series.refresh.push(await refreshRate(ctx));
  }
  // Last on the pinned core: a storm leaves argon2 work queued in the server after it ends.
  // The login path has run only for the set-up's few logins: a first storm, unrecorded, compiles
  // it (in a cold first storm logins reached 52–67% of argon2 alone, in the next ones 72–80%).
  if (plan.warmUps) {
    log('warming up the login path with a short storm (not recorded)');
    await loginStorm(ctx, plan.stormMs / 2);
  }
  for (let rep = 1; rep <= plan.repetitions; rep++) {
    log(`storm ${rep}/${plan.repetitions}: e. argon2 ceiling, e′'s paced load on bare, 200 concurrent logins with it on the service, then alone, then with it on bare`);
    series.argon2.push(await argon2Ceiling(ctx));
    series.pacedFloor.push(await pacedFloor(ctx));
    // e and e′ first, right after their ceiling and floor, as before e1, e2 and e′1 existed.
    const storm = await loginStorm(ctx);
    series.logins.push(storm.logins);
    series.stormAuth.push(storm.auth);
    series.loginsAlone.push(await loginsAlone(ctx));
    const beside = await stormBeside(ctx);
    series.loginsBeside.push(beside.logins);
    series.stormFloor.push(beside.auth);
  }
  return series;
}

const USAGE = 'usage: npm run bench -- [--quick]   (full: about 4½ minutes; --quick: under one)';

runMain('bench', async (cleanup) => {
  const args = process.argv.slice(2);
  if (args.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const unknown = args.filter((arg) => arg !== '--quick');
  if (unknown.length > 0) throw new UsageError(`${unknown.join(' ')}: not understood\n${USAGE}`);
  const plan = PLANS[args.includes('--quick') ? 'quick' : 'full'];
  const machine = machineInfo();
  const startedAt = new Date();
  log(`${plan.name} run on ${machine.cpus} × ${machine.model}, node ${machine.node}, load average ${machine.loadAverage.join(' ')}`);
  const ctx = await setUp(plan, cleanup);
  const series = await measureAll(ctx);
  log('g. revocation propagation: 3 cached instances');
  await Promise.all([ctx.exact.stop(), ctx.cached.stop(), ctx.bare.stop(), ctx.shaped.stop(), ctx.verifyBound.stop(), ctx.signBound.stop()]);
  const propagation = await revocationPropagation(ctx);
  const rows = buildRows(series, propagation, plan);
  const seconds = Math.round((Date.now() - startedAt.getTime()) / 1000);
  const loadGenerator = `${hasWrk() ? 'wrk (closed loop; paced: a@50%, a@80%, b@50%, c@80%), node:http pacer (e′, e′0, e′1)' : 'autocannon (closed loop), node:http pacer (paced rows)'}, autocannon (chained)`;
  process.stdout.write(`\n${formatTable(rows)}\n\n`);
  process.stdout.write(
    `${plan.name} run, medians of ${plan.repetitions} rounds (a–c: ${plan.repetitions * plan.slices} slices), ${seconds}s; ${machine.cpus} × ${machine.model}; node ${machine.node}; ` +
      `load average at start ${machine.loadAverage.join(' ')}; ${machine.pinned ? 'server on cpu 0, load on cpu 1' : 'not pinned (no taskset)'}; ${loadGenerator}\n`,
  );
  // A load average near the core count means other processes shared the cores: ratios drift and tails grow.
  if ((machine.loadAverage[0] ?? 0) >= 1) process.stdout.write(`warning: the machine was busy at start (load average ${machine.loadAverage[0]}); the numbers are noisy\n`);
  writeResults(join(REPO_ROOT, 'bench', 'results.json'), { plan, machine, loadAverageAtEnd: machineInfo().loadAverage, loadGenerator, startedAt: startedAt.toISOString(), seconds, rows, series, propagation });
});
