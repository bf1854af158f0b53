import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { childPids } from '../../scripts/cluster/child-pids.js';
import { type CleanupStack, tempDir } from '../../scripts/cluster/cleanup.js';
import { freePort } from '../../scripts/cluster/free-port.js';
import { postgresAnswers, postgresBinaries, postgresServerArgs, startPostgres } from '../../scripts/cluster/postgres.js';
import { type ManagedProcess, spawnLogged, waitUntilReady } from '../../scripts/cluster/process.js';
import { redisServerBinary } from '../../scripts/cluster/redis.js';
import { asUser, postgresRunAs } from '../../scripts/cluster/run-as.js';
import { tcpProbe } from '../../scripts/cluster/tcp-probe.js';

/**
 * Backing servers that a fault test owns and may freeze, kill and start again on the SAME port
 * and files, so the service under test sees "the same server came back". Only the processes
 * started here are ever signalled (by their own pid); the shared servers of the global setup are
 * never touched.
 */

/** Sends `signal` to a still-running process; SIGCONT first for a frozen one, so it can act on it. */
async function stopProcess(proc: ManagedProcess | undefined, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (!proc?.running()) return;
  proc.signal('SIGCONT');
  await proc.stop(signal, graceMs);
}

export interface FaultRedis {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** The current server process (a new one after each `start`). */
  process(): ManagedProcess;
  /**
   * Starts `redis-server` on the fixed port. `persistence: true` uses an fsync-always AOF, so a
   * killed server comes back with its data; `false` (default) keeps nothing on disk and removes
   * any earlier AOF/RDB files, so a restart loses everything.
   */
  start(options?: { persistence?: boolean }): Promise<void>;
  /** SIGKILL: the server is gone at once, no shutdown save. */
  kill(): Promise<void>;
  /** SIGSTOP: the socket stays open but nothing is answered. */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
}

/** A Redis owned by one test file, stopped (and its dir removed) by `cleanup`. */
export async function faultRedis(cleanup: CleanupStack): Promise<FaultRedis> {
  const binary = redisServerBinary();
  const dir = tempDir(cleanup, 'jwt-faults-redis-');
  const port = await freePort();
  let current: ManagedProcess | undefined;
  cleanup.add(() => stopProcess(current, 'SIGKILL', 5_000));

  const running = (): ManagedProcess => {
    if (!current) throw new Error('fault redis was never started');
    return current;
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    process: running,
    async start({ persistence = false } = {}) {
      if (current?.running()) throw new Error('fault redis is already running');
      if (!persistence) {
        rmSync(join(dir, 'appendonlydir'), { recursive: true, force: true });
        rmSync(join(dir, 'dump.rdb'), { force: true });
      }
      const args = [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--dir', dir,
        '--save', '',
        '--maxmemory-policy', 'noeviction',
        '--daemonize', 'no',
        ...(persistence ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
      ];
      current = spawnLogged('redis-server', binary, args, { logFile: join(dir, 'redis.log') });
      await waitUntilReady(current, () => tcpProbe('127.0.0.1', port, { send: 'PING\r\n', expect: '+PONG' }), 20_000);
    },
    async kill() {
      const proc = running();
      proc.signal('SIGKILL');
      await proc.exited;
    },
    freeze() {
      running().signal('SIGSTOP');
    },
    thaw() {
      running().signal('SIGCONT');
    },
  };
}

export interface FaultPostgres {
  /** Admin URL (`.../postgres`) on the fixed port. */
  readonly url: string;
  process(): ManagedProcess;
  /** Fast shutdown (SIGINT, SIGKILL after 10 s): clients are disconnected, new ones refused. */
  stop(): Promise<void>;
  /** Starts the server again on the same port and data directory. */
  start(): Promise<void>;
  /** SIGSTOP to the postmaster and its children (the backends): connections stay open, nothing answers. */
  freeze(): void;
  /** SIGCONT to the same processes. */
  thaw(): void;
}

/** A PostgreSQL server owned by one test file (initialised by `startPostgres`), stopped by `cleanup`. */
export async function faultPostgres(cleanup: CleanupStack): Promise<FaultPostgres> {
  // As root the server runs as another user, who must reach the dir: keep it under /tmp.
  const dir = tempDir(cleanup, 'jwt-faults-pg-', '/tmp');
  const first = await startPostgres(dir);
  let current: ManagedProcess = first.process;
  cleanup.add(() => stopProcess(current, 'SIGINT', 10_000));
  const port = new URL(first.url).port;
  const { server } = postgresBinaries();

  let frozen: number[] = [];
  /** `signal` to `pid` unless it has exited meanwhile (a backend whose connection closed). */
  const signalIfAlive = (pid: number, signal: NodeJS.Signals) => {
    try {
      process.kill(pid, signal);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
      throw error;
    }
  };
  const thaw = () => {
    for (const pid of frozen) signalIfAlive(pid, 'SIGCONT');
    frozen = [];
  };
  cleanup.add(thaw);

  return {
    url: first.url,
    process: () => current,
    freeze() {
      // Only the server this helper started, and the backends it forked: the postmaster first, so
      // that it forks no more; a backend that exits before its turn (it once did, in CI) is skipped.
      process.kill(current.pid, 'SIGSTOP');
      frozen = [current.pid, ...childPids(current.pid).filter((pid) => signalIfAlive(pid, 'SIGSTOP'))];
    },
    thaw,
    async stop() {
      thaw();
      await stopProcess(current, 'SIGINT', 10_000);
    },
    async start() {
      if (current.running()) throw new Error('fault postgres is already running');
      // As `startPostgres` starts it, on the existing data directory.
      const [command, args] = asUser(postgresRunAs(), server, postgresServerArgs(dir, port));
      current = spawnLogged('postgres', command, args, { logFile: join(dir, 'postgres.log') });
      await waitUntilReady(current, () => postgresAnswers(first.url), 20_000);
    },
  };
}

/** Milliseconds `work` took, with its result. */
export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

/**
 * Polls `attempt` every `intervalMs` until it returns true; resolves with the milliseconds it
 * took, or rejects after `timeoutMs`.
 */
export async function pollUntil(attempt: () => Promise<boolean>, timeoutMs: number, intervalMs = 25): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await attempt().catch(() => false)) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`not recovered within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

/** A one-line latency summary for the report: n, max, p50. */
export function summary(samples: readonly number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return `n=${sorted.length} p50=${at(0.5).toFixed(1)}ms max=${(sorted.at(-1) ?? NaN).toFixed(1)}ms`;
}
