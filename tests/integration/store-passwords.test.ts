import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CleanupStack, tempDir } from '../../scripts/cluster/cleanup.js';
import { startPostgres } from '../../scripts/cluster/postgres.js';
import { startRedis } from '../../scripts/cluster/redis.js';
import { UnavailableError } from '../../src/errors.js';
import { call, PASSWORD, stopTestInstances, testCluster, uniqueEmail } from '../helpers/test-app.js';

/**
 * `cache.password_file` and `database.password_file`: the passwords of Redis and PostgreSQL from
 * mounted secrets, with URLs that carry none. Both servers are this file's own: the shared ones
 * take no password.
 */
const cleanup = new CleanupStack();
const REDIS_PASSWORD = 'redis-pw-0123456789abcdef';
const PG_PASSWORD = 'pg pw with :@/% in it';
const PG_USER = 'jwt_pw';
let redisUrl: string;
let redisWithUserUrl: string;
let databaseUrl: string;
let redisFile: string;
let pgFile: string;

/** Makes PostgreSQL ask `PG_USER` for its password (scram), while the superuser keeps trust. */
async function requirePassword(superuserUrl: string): Promise<string> {
  const sql = postgres(superuserUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`create role ${PG_USER} login password '${PG_PASSWORD}'`);
    await sql.unsafe(`create database ${PG_USER} owner ${PG_USER}`);
    const [row] = await sql<{ hba_file: string }[]>`show hba_file`;
    const hba = row?.hba_file ?? '';
    // First match wins: the line goes before initdb's trust lines.
    writeFileSync(hba, `host all ${PG_USER} 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
    await sql`select pg_reload_conf()`;
  } finally {
    await sql.end({ timeout: 5 });
  }
  const url = new URL(superuserUrl);
  url.username = PG_USER;
  url.pathname = `/${PG_USER}`;
  return url.toString();
}

beforeAll(async () => {
  const dir = tempDir(cleanup, 'jwt-store-passwords-');
  const redis = await startRedis(tempDir(cleanup, 'jwt-store-passwords-redis-'));
  cleanup.add(() => redis.stop());
  const admin = new Redis(redis.url);
  await admin.config('SET', 'requirepass', REDIS_PASSWORD);
  admin.disconnect();
  redisUrl = redis.url;
  redisWithUserUrl = redis.url.replace('redis://', 'redis://default@');

  // As root the server runs as another user, who must reach the dir: keep it under /tmp.
  const pg = await startPostgres(tempDir(cleanup, 'jwt-store-passwords-pg-', '/tmp'));
  cleanup.add(() => pg.stop());
  databaseUrl = await requirePassword(pg.url);

  redisFile = join(dir, 'redis-password');
  pgFile = join(dir, 'postgres-password');
  writeFileSync(redisFile, `${REDIS_PASSWORD}\n`, { mode: 0o600 });
  writeFileSync(pgFile, PG_PASSWORD, { mode: 0o600 });
  appendFileSync(pgFile, '\n');
}, 60_000);

// The instances first, while the servers they use are still up.
afterAll(async () => {
  await stopTestInstances();
  await cleanup.run();
});

describe('passwords of Redis and PostgreSQL from files', () => {
  it('an instance reaches both with URLs that carry no password (also a Redis URL with a user name)', async () => {
    const cluster = await testCluster({
      cache: { url: redisUrl, password_file: redisFile },
      database: { url: databaseUrl, password_file: pgFile },
    });
    const first = await cluster.start();
    const email = uniqueEmail();
    const registered = await call(first.url, 'POST', '/register', { body: { email, password: PASSWORD } });
    expect(registered.status).toBe(201);
    // ioredis reads "default@" as the password "": the file's must still be the one sent.
    const second = await cluster.start({ cache: { url: redisWithUserUrl } });
    const token = String(registered.body?.access_token);
    expect((await call(second.url, 'GET', '/authenticate', { token })).status).toBe(200);
    expect((await call(second.url, 'POST', '/login', { body: { email, password: PASSWORD } })).status).toBe(200);
  });

  it('without the files, neither server lets the instance in', async () => {
    const cluster = await testCluster({
      cache: { url: redisUrl, password_file: redisFile },
      database: { url: databaseUrl, password_file: pgFile },
    });
    const noDatabasePassword = await cluster.start({ database: { password_file: null } }).catch((error: unknown) => error);
    expect(noDatabasePassword).toBeInstanceOf(UnavailableError);
    expect(String((noDatabasePassword as Error).cause)).toMatch(/password authentication failed/);
    const noRedisPassword = await cluster.start({ cache: { password_file: null } }).catch((error: unknown) => error);
    expect(noRedisPassword).toBeInstanceOf(UnavailableError);
    expect(String((noRedisPassword as Error).cause)).toMatch(/NOAUTH/);
  });

  it('an unreadable or empty file stops the start with the key and the file named, never a password', async () => {
    const cluster = await testCluster({ cache: { url: redisUrl, password_file: redisFile }, database: { url: databaseUrl, password_file: pgFile } });
    const missing = join(tempDir(cleanup, 'jwt-store-passwords-none-'), 'absent');
    await expect(cluster.start({ database: { password_file: missing } })).rejects.toThrow('database.password_file: cannot read the file it names (ENOENT): it must be the path of a file holding the secret, not the secret itself');
    const empty = join(tempDir(cleanup, 'jwt-store-passwords-empty-'), 'empty');
    writeFileSync(empty, ' \n');
    await expect(cluster.start({ cache: { password_file: empty } })).rejects.toThrow('cache.password_file: the file it names is empty');
  });
});
