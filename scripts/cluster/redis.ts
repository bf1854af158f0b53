import { join } from 'node:path';
import { requireBinary } from './binaries.js';
import { freePort } from './free-port.js';
import { type ExitStatus, type ManagedProcess, spawnLogged, waitUntilReady } from './process.js';
import { tcpProbe } from './tcp-probe.js';

/** A throwaway Redis: loopback only, no persistence, `noeviction` as the service expects. */
export interface LocalRedis {
  url: string;
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

/** Starts `redis-server` on a free loopback port with its files in `dir`. */
export async function startRedis(dir: string): Promise<LocalRedis> {
  const binary = redisServerBinary();
  const port = await freePort();
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--maxmemory-policy', 'noeviction',
    '--daemonize', 'no',
  ];
  const proc = spawnLogged('redis-server', binary, args, { logFile: join(dir, 'redis.log') });
  try {
    await waitUntilReady(proc, () => tcpProbe('127.0.0.1', port, { send: 'PING\r\n', expect: '+PONG' }), 20_000);
  } catch (error) {
    await proc.stop('SIGKILL');
    throw error;
  }
  return { url: `redis://127.0.0.1:${port}`, process: proc, stop: () => proc.stop('SIGTERM', 5_000) };
}
