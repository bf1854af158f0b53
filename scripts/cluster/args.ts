import { parseCommandLine, UsageError } from '../../src/util/cli-args.js';
import type { ClusterOptions } from './cluster.js';

export const USAGE = `Usage: npm run cluster -- [--instances N] [--port 4000] [--redis-url URL] [--database-url URL] [--key-prefix PREFIX]
                          [--log-level LEVEL] [--shutdown-grace D] [--revocation MODE] [--no-rate-limits]

Starts N jwt-cluster instances behind nginx on 127.0.0.1:PORT, with throwaway Redis and
PostgreSQL unless their URLs are given. Ctrl-C or SIGTERM stops what it started.

  --instances N        instances to start (default 3)
  --port PORT          nginx port on 127.0.0.1 (default 4000; 0 picks a free one)
  --redis-url URL      use this Redis instead of a throwaway one
  --database-url URL   use this PostgreSQL database instead of a throwaway server
  --key-prefix PREFIX  Redis key prefix (default jwt:)
  --log-level LEVEL    instances' log level (default warn; info logs every request)
  --shutdown-grace D   instances' drain time on SIGTERM (default 10s)
  --revocation MODE    instances' cache.revocation: exact (default) or cached
  --no-rate-limits     turn the brute-force limits off (load tests from one address)`;

function wholeNumber(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`--${flag}: expected a whole number from ${min} to ${max}, got "${text}"`);
  return value;
}

function oneOf<T extends string>(flag: string, text: string | undefined, allowed: readonly T[]): T | undefined {
  if (text === undefined || (allowed as readonly string[]).includes(text)) return text as T | undefined;
  throw new UsageError(`--${flag}: expected ${allowed.join(' or ')}, got "${text}"`);
}

/** Parses the CLI flags; `undefined` means `--help` was asked for. */
export function parseClusterArgs(argv: readonly string[]): ClusterOptions | undefined {
  const { values } = parseCommandLine({
    args: [...argv],
    strict: true,
    options: {
      instances: { type: 'string', short: 'n', default: '3' },
      port: { type: 'string', short: 'p', default: '4000' },
      'redis-url': { type: 'string' },
      'database-url': { type: 'string' },
      'key-prefix': { type: 'string' },
      'log-level': { type: 'string' },
      'shutdown-grace': { type: 'string' },
      revocation: { type: 'string' },
      'no-rate-limits': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return undefined;
  return {
    instances: wholeNumber('instances', values.instances, 1, 64),
    port: wholeNumber('port', values.port, 0, 65535),
    redisUrl: values['redis-url'],
    databaseUrl: values['database-url'],
    keyPrefix: values['key-prefix'],
    logLevel: values['log-level'],
    shutdownGrace: values['shutdown-grace'],
    revocation: oneOf('revocation', values.revocation, ['exact', 'cached'] as const),
    rateLimits: !values['no-rate-limits'],
  };
}
