import { join } from 'node:path';
import { startCluster } from './cluster.js';
import { UsageError } from '../../src/util/cli-args.js';
import { parseClusterArgs, USAGE } from './args.js';

/** `npm run cluster -- --instances N`: start, print the URLs, stop everything on Ctrl-C / SIGTERM. */
async function main(): Promise<void> {
  const options = parseClusterArgs(process.argv.slice(2));
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let stopRequested = false;
  const earlyStop = (): void => {
    stopRequested = true;
  };
  process.on('SIGINT', earlyStop);
  process.on('SIGTERM', earlyStop);

  process.stdout.write(`starting ${options.instances} instance(s)…\n`);
  const cluster = await startCluster(options);
  process.off('SIGINT', earlyStop);
  process.off('SIGTERM', earlyStop);

  const lines = [
    `jwt-cluster: ${cluster.url}  (nginx round-robin over ${cluster.instances.length} instances, revocation ${options.revocation ?? 'as the service defaults'})`,
    ...cluster.instances.map((instance) => `  ${instance.id.padEnd(7)} ${instance.url}  pid ${instance.pid}  log ${instance.logFile}`),
    `  redis    ${options.redisUrl ? 'given' : 'throwaway'}  ${redact(cluster.redisUrl)}`,
    `  postgres ${options.databaseUrl ? 'given' : 'throwaway'}  ${redact(cluster.databaseUrl)}`,
    `  files    ${cluster.dir} (removed on exit)`,
    // The CLI needs only the stores: no signing key or refresh secret.
    `  admin    CONFIG_FILE=${join(cluster.dir, 'config.yml')} REDIS_URL=${forShell(cluster.redisUrl)} DATABASE_URL=${forShell(cluster.databaseUrl)} npm run admin -- …`,
    'Ctrl-C stops everything.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  let stopping = false;
  for (const instance of cluster.instances) {
    void instance.exited.then(({ code, signal }) => {
      if (!stopping) process.stdout.write(`${instance.id} (pid ${instance.pid}) exited: ${signal ?? `code ${code}`}; nginx sends its traffic to the others\n`);
    });
  }

  const stop = async (signal: string): Promise<void> => {
    stopping = true;
    // A Redis or PostgreSQL given by URL is left running.
    const stopped = ['nginx', 'the instances', ...(options.redisUrl ? [] : ['Redis']), ...(options.databaseUrl ? [] : ['PostgreSQL'])];
    process.stdout.write(`\n${signal}: stopping ${stopped.join(', ')}…\n`);
    // Every step is bounded (SIGKILL after its grace), so further signals only wait for it.
    process.on('SIGINT', () => undefined);
    process.on('SIGTERM', () => undefined);
    try {
      await cluster.stop();
      process.stdout.write('stopped\n');
      process.exit(0);
    } catch (error) {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    }
  };
  if (stopRequested) return stop('signal during start-up');
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

/** A URL to paste into a shell: in full when it holds no password (a throwaway one), else a placeholder. */
function forShell(url: string): string {
  return redact(url) === url ? `'${url}'` : "'<the URL given>'";
}

/** Hides a password in a URL before printing it. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(error instanceof UsageError ? `cluster: ${message}\n${USAGE}\n` : `cluster: cannot start: ${message}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
