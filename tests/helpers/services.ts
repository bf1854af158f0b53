import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { inject } from 'vitest';

/** Connection URLs of the real services started (or chosen via env) by the global setup. */
export interface TestServices {
  /** `redis://127.0.0.1:PORT` of a Redis running with `maxmemory-policy noeviction`. */
  redisUrl: string;
  /** Admin URL (`.../postgres`) of the PostgreSQL server; use `freshDatabase()` for a test database. */
  databaseUrl: string;
}

declare module 'vitest' {
  export interface ProvidedContext extends TestServices {}
}

function randomSuffix(): string {
  return randomBytes(6).toString('hex');
}

/** URL of the shared test Redis. Combine with `uniquePrefix()` so test files do not collide. */
export function testRedisUrl(): string {
  return inject('redisUrl');
}

/** A unique Redis key prefix such as `t1a2b3c4d5e6:`, one per test file (or per test). */
export function uniquePrefix(): string {
  return `t${randomSuffix()}:`;
}

/**
 * Creates a new, empty database `test_<random>` on the test PostgreSQL server and returns
 * its URL. Each call yields an isolated database; they are discarded with the server.
 */
export async function freshDatabase(): Promise<string> {
  const adminUrl = inject('databaseUrl');
  const name = `test_${randomSuffix()}`;
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await sql.end({ timeout: 5 });
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
