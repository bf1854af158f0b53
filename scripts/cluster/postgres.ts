import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { postgresBinDirs, requireBinary } from './binaries.js';
import { onPortOrFree } from './free-port.js';
import { type ExitStatus, type ManagedProcess, spawnLogged, waitUntilReady } from './process.js';
import { asUser, postgresRunAs } from './run-as.js';

const SUPERUSER = 'postgres';

/** A throwaway PostgreSQL server: loopback only, trust auth, durability off. */
export interface LocalPostgres {
  url: string;
  process: ManagedProcess;
  /** SIGINT ("fast" shutdown: SIGTERM would wait for clients to disconnect), then SIGKILL after 10 s. */
  stop(): Promise<ExitStatus>;
}

/** The server binaries, which Debian keeps off PATH. */
export interface PostgresBinaries {
  initdb: string;
  server: string;
}

/**
 * The paths of `initdb` and `postgres`, on PATH or in `/usr/lib/postgresql/<version>/bin`.
 * @throws naming the package to install when one is missing
 */
export function postgresBinaries(): PostgresBinaries {
  const binDirs = postgresBinDirs();
  return { initdb: requireBinary('initdb', 'postgresql', binDirs), server: requireBinary('postgres', 'postgresql', binDirs) };
}

/**
 * Whether a PostgreSQL at `url` answers `select 1` within `timeoutMs`. Bounded as a whole:
 * postgres.js connects again and again to a port whose server closes every connection (another
 * server on it), and its `connect_timeout` bounds only each attempt.
 */
export async function postgresAnswers(url: string, timeoutMs = 2_000): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 1, onnotice: () => {} });
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([sql`select 1`.then(() => true, () => false), gaveUp]);
  } finally {
    clearTimeout(timer);
    await sql.end({ timeout: 0 });
  }
}

/** The server's arguments for a throwaway cluster in `dir` (`data/`, `socket/`): fast, never durable. */
export function postgresServerArgs(dir: string, port: number | string): string[] {
  return [
    '-D', join(dir, 'data'),
    '-p', String(port),
    '-k', join(dir, 'socket'),
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'fsync=off',
    '-c', 'synchronous_commit=off',
    '-c', 'full_page_writes=off',
    '-c', 'max_connections=200',
  ];
}

/**
 * Initialises a cluster in `dir` and starts `postgres` on `options.port`, or else on a free
 * loopback port (another if that one was taken meanwhile). As root it
 * runs as an unprivileged user (see `postgresRunAs`), so `dir` must be reachable by that user
 * (e.g. under /tmp).
 */
export async function startPostgres(dir: string, options: { port?: number } = {}): Promise<LocalPostgres> {
  const { initdb, server } = postgresBinaries();
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

  const start = async (port: number): Promise<LocalPostgres> => {
    const [command, args] = asUser(runAs, server, postgresServerArgs(dir, port));
    const proc = spawnLogged('postgres', command, args, { logFile: join(dir, 'postgres.log') });
    const url = `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`;
    try {
      await waitUntilReady(proc, () => postgresAnswers(url), 20_000);
    } catch (error) {
      await proc.stop('SIGKILL');
      throw error;
    }
    return { url, process: proc, stop: () => proc.stop('SIGINT', 10_000) };
  };
  // initdb is not repeated for another port.
  return onPortOrFree(options.port, start);
}
