import { ConfigError, loadConfig } from './config/loader.js';
import { createDeps, instanceIdOf, isEmbedded } from './deps.js';
import { AppError, UnavailableError } from './errors.js';
import { flushAccessLogs } from './observability/access-log.js';
import { createLogger } from './observability/logger.js';
import { startMetricsServer, startServer, stopServer } from './server.js';
import { parseCommandLine, UsageError } from './util/cli-args.js';

/** A signal this long after the first stops at once; sooner, it is taken for the same one. */
const SECOND_SIGNAL_AFTER_MS = 1000;

const USAGE = `Usage: npm start -- [--config FILE]   (the image: node dist/main.js [--config FILE])

Starts one instance. Its configuration is FILE, else $CONFIG_FILE, else ./config.yml if there is
one, else the defaults (the embedded single-instance store). See the README's Configuration.`;

/** load config → build deps → listen; ordered shutdown on SIGTERM/SIGINT. */
async function main() {
  const { values } = parseCommandLine({ options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const warnings: string[] = [];
  const config = loadConfig({ file: values.config, warnings });
  const logger = createLogger(config.logging, instanceIdOf(config.server));
  for (const warning of warnings) logger.warn(warning);
  const deps = await createDeps(config, logger);
  const { server, port } = await startServer(deps);
  const metricsServer = await startMetricsServer(deps).catch((error: unknown) => {
    server.close();
    throw error;
  });
  if (isEmbedded(config)) {
    const users = config.database.url ? 'PostgreSQL' : `PGlite in ${config.database.data_dir}`;
    logger.warn(`EMBEDDED MODE: in-process session store and ${users} — single instance only; to run a cluster set REDIS_URL and DATABASE_URL (cache.url, database.url), REFRESH_SECRET and auth.keys (README: Configuration)`);
  }
  logger.info({ port, algorithm: config.auth.algorithm }, `jwt-cluster listening on http://${config.server.host}:${port} as ${deps.instanceId}`);

  /** The access-log lines held back, then the last line, then the exit once the log is written. */
  const exitWith = (code: number, lastLine: () => void) => {
    flushAccessLogs();
    lastLine();
    logger.flush(() => process.exit(code));
  };
  let stoppingSince: number | undefined;
  const stop = (signal: string) => {
    if (stoppingSince !== undefined) {
      // One Ctrl-C can arrive twice (from the terminal and relayed by npm/tsx): only a signal a
      // second or more after the first means the operator will not wait for the drain.
      if (performance.now() - stoppingSince >= SECOND_SIGNAL_AFTER_MS) {
        exitWith(1, () => logger.warn({ signal }, 'second signal: stopping now, without finishing the drain'));
      }
      return;
    }
    stoppingSince = performance.now();
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    metricsServer?.close();
    stopServer(server, deps, config.server.shutdown_grace).then(
      () => exitWith(0, () => logger.info('stopped')),
      (error: unknown) => exitWith(1, () => logger.error({ err: error }, 'shutdown failed')),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** What the configured Redis or PostgreSQL answered, in one line (driver messages name host and port, never a password). */
function unreachable(error: UnavailableError): string {
  const which = error.dependency === 'cache' ? 'Redis (cache.url / sentinel / cluster)' : 'PostgreSQL (database.url)';
  const cause = error.cause instanceof Error ? error.cause.message.split('\n')[0] : undefined;
  return `${which} is unavailable${cause ? `: ${cause}` : ''}`;
}

main().catch((error: unknown) => {
  // Start-up failures are one line naming what is wrong, never a stack trace. An unreachable
  // store exits 1 (worth a restart once it is up), a configuration mistake 2.
  if (error instanceof UnavailableError) {
    process.stderr.write(`jwt-cluster: cannot start: ${unreachable(error)}\n`);
    process.exit(1);
  }
  // A key that cannot be used (KeyError) is a ConfigError too.
  const known = error instanceof ConfigError || error instanceof AppError || error instanceof UsageError;
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`jwt-cluster: cannot start: ${known ? message : `${message} (unexpected)`}\n`);
  process.exit(known ? 2 : 1);
});
