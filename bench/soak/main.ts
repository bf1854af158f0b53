/**
 * `npm run soak [-- --minutes N]`: mixed register/login/authenticate/refresh/logout traffic
 * through nginx over 3 instances (`scripts/cluster`, running the compiled service as the image
 * does: tsx's transpiler would hold memory of its own) for N minutes (default 5, 3–30), sampling
 * each instance's RSS every 2 s. Prints errors, latency per endpoint, RSS growth after warm-up
 * (the highest 30 s window's median over the first minute's; target ≤ 15%) and each instance's
 * cache entries at the end, writes `bench/soak-results.json`; exits 0 unless the harness fails.
 */
import { setMaxListeners } from 'node:events';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildService } from '../../scripts/cluster/build.js';
import { startCluster } from '../../scripts/cluster/cluster.js';
import { createHttpClient } from '../load/http.js';
import { argon2Options, defaultHashConcurrency } from '../../src/passwords/hasher.js';
import { machineInfo, rssBytes, smapsText } from '../machine.js';
import { UsageError } from '../../src/util/cli-args.js';
import { runMain } from '../run-main.js';
import { cacheEntries } from './caches.js';
import { createRecorder } from './record.js';
import { argon2Resident, MAX_GROWTH, memory, mib, type RssSample, WINDOW_S } from './memory.js';
import { formatReport } from './report.js';
import { createPacer, gateway, gatewayPool, virtualUser } from './traffic.js';

const INSTANCES = 3;
const SAMPLE_MS = 2_000;
/**
 * Start-up ends with a one-off release of memory: each instance's RSS fell 30–40 MiB and filled
 * again to ~7 MiB under where it had been within ~20 s, 17–55 s after the start in five soaks.
 */
const WARMUP_S = 90;
const REQUEST_TIMEOUT_MS = 5_000;
const RESULTS = fileURLToPath(new URL('../soak-results.json', import.meta.url));
const USAGE = 'usage: npm run soak -- [--minutes 3-30] [--users N] [--rate REQ_PER_S] [--login-rate PER_S] [--mode exact|cached]';
const log = (message: string) => process.stderr.write(`soak: ${message}\n`);

function parseArgs(argv: readonly string[]) {
  const options = { minutes: 5, users: 24, rate: 300, loginRate: 4, mode: 'cached' as 'exact' | 'cached' };
  const limits = { minutes: [3, 30], users: [1, 500], rate: [1, 20_000], loginRate: [0.1, 100] } as const;
  if (argv.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i]!, argv[i + 1]];
    const key = ({ '--minutes': 'minutes', '--users': 'users', '--rate': 'rate', '--login-rate': 'loginRate' } as const)[flag];
    if (flag === '--mode' && (value === 'exact' || value === 'cached')) options.mode = value;
    else if (key && Number(value) >= limits[key][0] && Number(value) <= limits[key][1]) options[key] = Number(value);
    else throw new UsageError(`${flag} ${value ?? ''}: not understood\n${USAGE}`);
  }
  return options;
}

runMain('soak', async (cleanup) => {
  const options = parseArgs(process.argv.slice(2));
  log('building the service (tsc)');
  buildService();
  log(`starting Redis, PostgreSQL, ${INSTANCES} instances (${options.mode} revocation, dist/main.js) and nginx`);
  const cluster = await startCluster({ instances: INSTANCES, port: 0, revocation: options.mode, rateLimits: false, compiled: true });
  cleanup.add(() => cluster.stop());
  const instances = cluster.instances.map(({ id, pid, url }) => ({ id, pid, url }));
  log(`${cluster.url}: ${instances.map(({ id, pid }) => `${id} pid ${pid}`).join(', ')}`);
  const client = createHttpClient(options.users + 16, REQUEST_TIMEOUT_MS);
  cleanup.add(() => client.close());
  const stop = new AbortController();
  setMaxListeners(0, stop.signal); // every user and lane sleeps on it at once
  let interrupted = false; // cleanup runs before the end only on Ctrl-C / SIGTERM
  cleanup.add(() => {
    interrupted = true;
    stop.abort();
  });

  const started = Date.now();
  const elapsedS = () => Math.round((Date.now() - started) / 1000);
  const rec = createRecorder(client, cluster.url, started);
  const pool = await gatewayPool(rec, 8, 256);
  const samples: RssSample[] = [];
  const usersDone = new Set<number>();
  let warm: number | undefined;
  const sample = () => {
    // Each instance's two readings one after the other, so a block mapped or unmapped between them is rare.
    const readings = instances.map(({ pid }) => {
      const smaps = smapsText(pid);
      return { argon2: smaps === undefined ? null : argon2Resident(smaps, argon2Options.memoryCost), rss: rssBytes(pid) ?? null };
    });
    samples.push({ atS: elapsedS(), rss: readings.map((r) => r.rss), argon2: readings.map((r) => r.argon2) });
    if (warm === undefined && elapsedS() >= WARMUP_S && usersDone.size === options.users) warm = samples.length - 1;
  };
  sample();
  const sampler = setInterval(sample, SAMPLE_MS);
  cleanup.add(() => clearInterval(sampler));
  const progress = setInterval(() => {
    const rss = samples.at(-1)!.rss.map((bytes) => (bytes === null ? 'gone' : `${Math.round(bytes / 2 ** 20)}`)).join('/');
    log(`${elapsedS()}s: ${rec.total()} requests, ${rec.errorCount()} errors, ${usersDone.size}/${options.users} users past round 1, RSS ${rss} MiB`);
  }, 30_000);
  cleanup.add(() => clearInterval(progress));

  const deadline = setTimeout(() => stop.abort(), options.minutes * 60_000);
  cleanup.add(() => clearTimeout(deadline));
  // Logins are argon2 (~50–100 ms of CPU each): paced, so the soak measures a steady state, not a saturated hasher.
  const pace = createPacer(options.loginRate);
  const userOptions = { authsPerLogin: 4, afterLogoutMs: options.mode === 'cached' ? 250 : 0 };
  await Promise.all([
    gateway(rec, pool, options.rate, 8, stop.signal),
    ...Array.from({ length: options.users }, (_, i) => virtualUser(i, rec, pace, userOptions, stop.signal, () => usersDone.add(i))),
  ]);
  if (interrupted) return; // no report for a cut-short run
  clearInterval(sampler);
  clearInterval(progress);
  sample();
  const durationS = (Date.now() - started) / 1000;
  const caches = await Promise.all(instances.map(({ url }) => cacheEntries(url)));

  const warmIndex = warm ?? Math.max(0, samples.findIndex((s) => s.atS >= WARMUP_S));
  const { endpoints, errors } = rec.summary();
  // The instances' argon2 threads: `passwords.hash_concurrency` is left at 0 (the default) by scripts/cluster.
  const argon2Cap = defaultHashConcurrency() * argon2Options.memoryCost * 1024;
  const mem = memory(instances, samples, warmIndex, argon2Cap);
  const report = {
    durationS: Math.round(durationS),
    endpoints,
    errors,
    warmupS: samples[warmIndex]!.atS,
    memory: mem,
    caches,
    pass: errors.count === 0 && mem.every((m) => m.pass),
  };
  const setup = `${options.minutes} min, ${INSTANCES} instances behind nginx, ${options.mode} revocation, ${options.users} users, gateway ${options.rate} req/s, logins ≤ ${options.loginRate}/s`;
  process.stdout.write(`\n${formatReport(report, setup)}`);
  const results = {
    date: new Date(started).toISOString(),
    machine: machineInfo(),
    options: { ...options, instances: INSTANCES, warmupTargetS: WARMUP_S, sampleMs: SAMPLE_MS, windowS: WINDOW_S, requestTimeoutMs: REQUEST_TIMEOUT_MS, maxGrowth: MAX_GROWTH },
    ...report,
    usersPastFirstRound: usersDone.size,
    rssSamplesMiB: samples.map((s) => ({ atS: s.atS, rss: s.rss.map(mib), argon2: (s.argon2 ?? []).map(mib) })),
  };
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  log(`wrote ${RESULTS}`);
});
