import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireBinary } from './binaries.js';
import { onPortOrFree } from './free-port.js';
import { type ExitStatus, type ManagedProcess, spawnLogged, waitUntilReady } from './process.js';
import { tcpProbe } from './tcp-probe.js';

/** A throwaway Redis: loopback only, no persistence, `noeviction` as the service expects. */
export interface LocalRedis {
  url: string;
  port: number;
  process: ManagedProcess;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<ExitStatus>;
}

/**
 * The path of `redis-server`.
 * @throws naming the package to install when it is missing
 */
export function redisServerBinary(): string {
  return requireBinary('redis-server', 'redis-server');
}

/**
 * The path of `redis-cli`.
 * @throws naming the package to install when it is missing
 */
export function redisCliBinary(): string {
  return requireBinary('redis-cli', 'redis-tools');
}

/** Runs `redis-cli -h 127.0.0.1 -p <port> <args>` (10 s at most) and returns its stdout. */
export async function redisCli(port: number, args: readonly string[], timeoutMs = 10_000): Promise<string> {
  const { stdout } = await promisify(execFile)(redisCliBinary(), ['-h', '127.0.0.1', '-p', String(port), ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  return stdout;
}

/** How to start one `redis-server` (defaults: a plain throwaway server on a free port). */
export interface RedisServerOptions {
  /** The port to listen on; a free one if not given. */
  port?: number;
  /** A config file, passed first (`redis-server <file> ...`), e.g. for `--sentinel`. */
  configFile?: string;
  /** More arguments after the defaults, e.g. `['--cluster-enabled', 'yes']`. */
  args?: readonly string[];
  /** Name for logs and errors; also the log file's name (`<name>.log` in `dir`). */
  name?: string;
  /** `true`: run as a sentinel (`--sentinel`, needs `configFile`), without the data-server options. */
  sentinel?: boolean;
}

/**
 * Starts `redis-server` with its files in `dir`, on `options.port` or else on a free loopback
 * port (another one if that was taken meanwhile).
 */
export function startRedis(dir: string, options: RedisServerOptions = {}): Promise<LocalRedis> {
  return onPortOrFree(options.port, (port) => startRedisOn(port, dir, options));
}

async function startRedisOn(port: number, dir: string, options: RedisServerOptions): Promise<LocalRedis> {
  const binary = redisServerBinary();
  const name = options.name ?? 'redis-server';
  const args = [
    ...(options.configFile ? [options.configFile] : []),
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    ...(options.sentinel ? [] : ['--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction']),
    '--daemonize', 'no',
    ...(options.sentinel ? ['--sentinel'] : []),
    ...(options.args ?? []),
  ];
  const proc = spawnLogged(name, binary, args, { logFile: join(dir, options.name ? `${name}.log` : 'redis.log') });
  try {
    await waitUntilReady(proc, () => tcpProbe('127.0.0.1', port, { send: 'PING\r\n', expect: '+PONG' }), 20_000);
  } catch (error) {
    await proc.stop('SIGKILL');
    throw error;
  }
  return { url: `redis://127.0.0.1:${port}`, port, process: proc, stop: () => proc.stop('SIGTERM', 5_000) };
}
