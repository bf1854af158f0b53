import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { postgresBinDirs, requireBinary } from './binaries.js';
import { freePort } from './free-port.js';
import { type ManagedProcess, spawnLogged, waitUntilReady } from './process.js';
import { asUser, postgresRunAs } from './run-as.js';

const SUPERUSER = 'postgres';

/** A throwaway PostgreSQL server: loopback only, trust auth, durability off. Stop it with SIGINT (fast shutdown). */
export interface LocalPostgres {
  url: string;
  process: ManagedProcess;
}

async function answers(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 1, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/**
 * Initialises a cluster in `dir` and starts `postgres` on a free loopback port. As root it
 * runs as the `postgres` user, so `dir` must be reachable by that user (e.g. under /tmp).
 */
export async function startPostgres(dir: string): Promise<LocalPostgres> {
  const binDirs = postgresBinDirs();
  const initdb = requireBinary('initdb', 'postgresql', binDirs);
  const server = requireBinary('postgres', 'postgresql', binDirs);
  const runAs = postgresRunAs();
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'socket');
  mkdirSync(socketDir);
  if (runAs) for (const path of [dir, socketDir]) chownSync(path, runAs.uid, runAs.gid);

  const [initCommand, initArgs] = asUser(runAs, initdb, ['-D', dataDir, '-U', SUPERUSER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  try {
    execFileSync(initCommand, initArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    throw new Error(`initdb failed: ${stderr || String(error)}`);
  }

  const port = await freePort();
  const [command, args] = asUser(runAs, server, [
    '-D', dataDir,
    '-p', String(port),
    '-k', socketDir,
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'fsync=off',
    '-c', 'synchronous_commit=off',
    '-c', 'full_page_writes=off',
    '-c', 'max_connections=200',
  ]);
  const proc = spawnLogged('postgres', command, args, { logFile: join(dir, 'postgres.log') });
  const url = `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`;
  try {
    await waitUntilReady(proc, () => answers(url), 20_000);
  } catch (error) {
    await proc.stop('SIGKILL');
    throw error;
  }
  return { url, process: proc };
}
