import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, chownSync, constants, mkdirSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import type { TestServices } from './services.js';

const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const DB_SUPERUSER = 'postgres';

interface Service {
  name: string;
  child: ChildProcess;
  stopSignal: NodeJS.Signals;
  logFile: string;
  exited: Promise<void>;
}

/** An error whose report is the message alone: no stack trace in vitest's output. */
function setupError(message: string): Error {
  const error = new Error(message);
  error.stack = message;
  return error;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findBinary(name: string, extraDirs: readonly string[] = []): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  return dirs.map((dir) => join(dir, name)).find(isExecutable);
}

function postgresBinDirs(): string[] {
  const root = '/usr/lib/postgresql';
  try {
    return readdirSync(root)
      .sort((a, b) => Number(b) - Number(a))
      .map((version) => join(root, version, 'bin'));
  } catch {
    return [];
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
}

function logTail(logFile: string): string {
  try {
    return readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Identity the PostgreSQL server runs as: itself unless we are root, which postgres refuses. */
interface RunAs {
  uid: number;
  gid: number;
}

function unprivilegedUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const idOf = (user: string): RunAs | undefined => {
    try {
      const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      return { uid, gid };
    } catch {
      return undefined;
    }
  };
  const existing = idOf('postgres') ?? idOf('jwtcluster-test');
  if (existing) return existing;
  execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'jwtcluster-test'], { stdio: 'ignore' });
  const created = idOf('jwtcluster-test');
  if (!created) throw setupError('could not create the unprivileged user jwtcluster-test to run PostgreSQL');
  return created;
}

/** Command line that runs `argv` as `runAs` (via setpriv, which execs, so the pid stays the server's). */
function asUser(runAs: RunAs | undefined, argv: readonly string[]): [string, string[]] {
  const [command, ...args] = argv;
  if (command === undefined) throw new Error('empty command');
  if (!runAs) return [command, args];
  return ['setpriv', [`--reuid=${runAs.uid}`, `--regid=${runAs.gid}`, '--clear-groups', '--', command, ...args]];
}

class Services {
  private readonly services: Service[] = [];
  private readonly dirs: string[] = [];

  tempDir(prefix: string, owner?: RunAs): string {
    // Another user must be able to reach the directory, and $TMPDIR may be private to root.
    const dir = mkdtempSync(join(owner ? '/tmp' : tmpdir(), prefix));
    this.dirs.push(dir);
    if (owner) chownSync(dir, owner.uid, owner.gid);
    return dir;
  }

  start(name: string, argv: readonly string[], logFile: string, runAs: RunAs | undefined, stopSignal: NodeJS.Signals): Service {
    const log = openSync(logFile, 'a');
    const [command, args] = asUser(runAs, argv);
    const child = spawn(command, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    const service: Service = { name, child, stopSignal, logFile, exited };
    this.services.push(service);
    return service;
  }

  async waitUntil(service: Service, ready: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let gone = false;
    void service.exited.then(() => (gone = true));
    while (Date.now() < deadline) {
      if (gone) throw setupError(`${service.name} exited during start-up:\n${logTail(service.logFile)}`);
      if (await ready()) return;
      await sleep(100);
    }
    throw setupError(`${service.name} did not accept connections within ${READY_TIMEOUT_MS / 1000}s:\n${logTail(service.logFile)}`);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.services.splice(0).map(stop));
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }

  /** Last resort when the runner exits without calling teardown: must be synchronous. */
  killAllNow(): void {
    for (const { child } of this.services) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }
}

async function stop(service: Service): Promise<void> {
  const { child } = service;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill(service.stopSignal);
  const timedOut = await Promise.race([service.exited.then(() => false), sleep(STOP_GRACE_MS).then(() => true)]);
  if (timedOut) {
    child.kill('SIGKILL');
    await service.exited;
  }
}

function redisAnswersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

async function postgresAnswers(url: string): Promise<boolean> {
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

async function startRedis(services: Services, redisServer: string): Promise<string> {
  const dir = services.tempDir('jwt-cluster-redis-');
  const port = await freePort();
  const argv = [
    redisServer,
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--maxmemory-policy', 'noeviction',
    '--daemonize', 'no',
  ];
  const service = services.start('redis-server', argv, join(dir, 'redis.log'), undefined, 'SIGTERM');
  await services.waitUntil(service, () => redisAnswersPing(port));
  return `redis://127.0.0.1:${port}`;
}

async function startPostgres(services: Services, initdb: string, postgresBin: string): Promise<string> {
  const runAs = unprivilegedUser();
  const dir = services.tempDir('jwt-cluster-pg-', runAs);
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'socket');
  mkdirSync(socketDir);
  if (runAs) chownSync(socketDir, runAs.uid, runAs.gid);
  const logFile = join(dir, 'postgres.log');

  const [initCommand, initArgs] = asUser(runAs, [
    initdb, '-D', dataDir, '-U', DB_SUPERUSER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync',
  ]);
  try {
    execFileSync(initCommand, initArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    throw setupError(`initdb failed: ${stderr || String(error)}`);
  }

  const port = await freePort();
  const argv = [
    postgresBin,
    '-D', dataDir,
    '-p', String(port),
    '-k', socketDir,
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'fsync=off',
    '-c', 'synchronous_commit=off',
    '-c', 'full_page_writes=off',
    '-c', 'max_connections=200',
  ];
  // SIGINT is PostgreSQL's "fast" shutdown; SIGTERM would wait for clients to disconnect.
  const service = services.start('postgres', argv, logFile, runAs, 'SIGINT');
  const url = `postgres://${DB_SUPERUSER}@127.0.0.1:${port}/postgres`;
  await services.waitUntil(service, () => postgresAnswers(url));
  return url;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const envRedis = process.env['TEST_REDIS_URL'];
  const envDatabase = process.env['TEST_DATABASE_URL'];

  const redisServer = envRedis ? undefined : findBinary('redis-server');
  if (!envRedis && !redisServer) {
    throw setupError('redis-server not found: install it (apt-get install redis-server) or set TEST_REDIS_URL');
  }
  const pgDirs = postgresBinDirs();
  const initdb = envDatabase ? undefined : findBinary('initdb', pgDirs);
  const postgresBin = envDatabase ? undefined : findBinary('postgres', pgDirs);
  if (!envDatabase && (!initdb || !postgresBin)) {
    throw setupError('PostgreSQL server binaries (initdb, postgres) not found: install them (apt-get install postgresql) or set TEST_DATABASE_URL');
  }

  const services = new Services();
  const onExit = (): void => services.killAllNow();
  process.once('exit', onExit);
  const teardown = async (): Promise<void> => {
    process.off('exit', onExit);
    await services.stopAll();
  };

  try {
    const [redisUrl, databaseUrl] = await Promise.all([
      envRedis ?? startRedis(services, redisServer ?? 'redis-server'),
      envDatabase ?? startPostgres(services, initdb ?? 'initdb', postgresBin ?? 'postgres'),
    ]);
    const provided: TestServices = { redisUrl, databaseUrl };
    project.provide('redisUrl', provided.redisUrl);
    project.provide('databaseUrl', provided.databaseUrl);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
