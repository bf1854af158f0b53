/**
 * `npm run soak [-- --minutes N]` (default 5, at most 30): one `cached`-mode instance pinned
 * to one core under a rotating mix — pool tokens, never-seen tokens, refresh chains, a login
 * storm — while its RSS is sampled. After the first full round of the mix (warm-up) RSS must
 * stay within 15% of where it was; every cache is capped, so it should.
 */
import { login, mapLimit } from './fixtures.js';
import { startLoadWorker } from './load/driver.js';
import type { LoadJob } from './load/jobs.js';
import { rssBytes, SERVER_CPU } from './machine.js';
import { runMain } from './run-main.js';
import { startService } from './service.js';
import { makePool, startStack } from './stack.js';

const SEGMENT_MS = 10_000;
const SAMPLE_MS = 2_000;
const MAX_GROWTH = 0.15;
const log = (message: string) => process.stderr.write(`soak: ${message}\n`);

function minutesArg(): number {
  const index = process.argv.indexOf('--minutes');
  const minutes = index === -1 ? 5 : Number(process.argv[index + 1]);
  if (!Number.isFinite(minutes) || minutes < 1 || minutes > 30) throw new Error('--minutes: a number from 1 to 30');
  return minutes;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

runMain('soak', async (cleanup) => {
  const minutes = minutesArg();
  const { env, signing } = await startStack(cleanup, log);
  const server = await startService(env, 'soak', 'cached', SERVER_CPU);
  cleanup.add(() => server.stop());
  const worker = await startLoadWorker();
  cleanup.add(() => worker.stop());
  const pool = await makePool(server.url, 20, 1_000);
  const claims = pool.sessions.map(({ userId, sessionId, tokenVersion, roles }) => ({ userId, sessionId, tokenVersion, roles }));

  const mix: (() => Promise<LoadJob>)[] = [
    async () => ({ kind: 'http', url: server.url, path: '/authenticate', connections: 32, ms: SEGMENT_MS, bearerTokens: pool.tokens }),
    async () => ({ kind: 'cold', url: server.url, connections: 32, ms: SEGMENT_MS, count: 40_000, signing, sessions: claims }),
    async () => {
      const sessions = await mapLimit(pool.accounts.slice(0, 14), 4, (account) => login(server.url, account));
      return { kind: 'refresh', url: server.url, connections: 10, ms: SEGMENT_MS, refreshTokens: sessions.map((s) => s.refreshToken) };
    },
    async () => ({
      kind: 'storm',
      url: server.url,
      ms: SEGMENT_MS,
      concurrency: 50,
      accounts: pool.accounts,
      auth: { connections: 4, rate: 1_000, bearerTokens: pool.tokens },
    }),
  ];
  const samples: { atS: number; rss: number }[] = [];
  const started = Date.now();
  const sampler = setInterval(() => {
    const rss = rssBytes(server.pid);
    if (rss !== undefined) samples.push({ atS: Math.round((Date.now() - started) / 1000), rss });
  }, SAMPLE_MS);
  cleanup.add(() => clearInterval(sampler));
  let warmAt: number | undefined;
  for (let i = 0; Date.now() - started < minutes * 60_000; i++) {
    const job = await mix[i % mix.length]!();
    log(`${Math.round((Date.now() - started) / 1000)}s: ${job.kind}, rss ${mib(rssBytes(server.pid) ?? 0)}`);
    await worker.run(job, SEGMENT_MS + 10_000);
    if (i === mix.length - 1) warmAt = samples.length;
  }
  clearInterval(sampler);
  const warm = samples[(warmAt ?? 1) - 1]?.rss ?? Number.NaN;
  const after = samples.slice(warmAt ?? 0).map((s) => s.rss);
  const peak = Math.max(...after);
  const growth = (peak - warm) / warm;
  process.stdout.write(
    `\nsoak: ${minutes} min, cached mode, 1 core; RSS after warm-up ${mib(warm)}, peak after ${mib(peak)}, ` +
      `final ${mib(after.at(-1) ?? Number.NaN)}: growth ${(growth * 100).toFixed(1)}% (target ≤ ${MAX_GROWTH * 100}%): ${growth <= MAX_GROWTH ? 'pass' : 'FAIL'}\n`,
  );
});
