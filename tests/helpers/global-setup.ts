import pino from 'pino';
import type { TestProject } from 'vitest/node';
import { startBackingServices } from '../../scripts/cluster/backing-services.js';
import { CleanupStack } from '../../scripts/cluster/cleanup.js';
import { postgresBinaries } from '../../scripts/cluster/postgres.js';
import { redisServerBinary } from '../../scripts/cluster/redis.js';
import { configSchema } from '../../src/config/schema.js';
import { closeRedis, connectRedis } from '../../src/sessions/redis-connection.js';
import type { TestServices } from './services.js';

/** An error whose report is the message (and its cause's) alone: no stack trace in vitest's output. */
function setupError(error: unknown, suffix = ''): Error {
  const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
  const message = `${error instanceof Error ? error.message : String(error)}${cause}${suffix}`;
  const wrapped = new Error(message);
  wrapped.stack = message;
  return wrapped;
}

/** Runs `findBinary`; if it is missing, fails at once with one line that also names `envName`. */
function requireBinaryOr(envName: string, findBinary: () => unknown): void {
  try {
    findBinary();
  } catch (error) {
    throw setupError(error, ` or set ${envName}`);
  }
}

/**
 * Vitest global setup: provides `redisUrl` and `databaseUrl` (see `./services.ts`), from
 * TEST_REDIS_URL / TEST_DATABASE_URL or else from throwaway servers started by the
 * `npm run cluster` library and removed, files and all, on teardown.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given: Partial<TestServices> = {
    redisUrl: process.env['TEST_REDIS_URL'] || undefined,
    databaseUrl: process.env['TEST_DATABASE_URL'] || undefined,
  };
  if (!given.redisUrl) requireBinaryOr('TEST_REDIS_URL', redisServerBinary);
  if (!given.databaseUrl) requireBinaryOr('TEST_DATABASE_URL', postgresBinaries);

  const cleanup = new CleanupStack();
  try {
    const services: TestServices = await startBackingServices(given, cleanup);
    // The service's own start-up checks, once: an old redis-server (before 7.0) fails here in one
    // line rather than in every file that starts the service.
    await closeRedis(await connectRedis(configSchema.parse({ cache: { url: services.redisUrl } }).cache, { logger: pino({ level: 'silent' }) }));
    project.provide('redisUrl', services.redisUrl);
    project.provide('databaseUrl', services.databaseUrl);
  } catch (error) {
    await cleanup.run().catch(() => undefined);
    throw setupError(error);
  }
  return () => cleanup.run();
}
