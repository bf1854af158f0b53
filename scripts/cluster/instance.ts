import { join } from 'node:path';
import { NODE_FLAGS } from '../../src/node-flags.js';
import { DIST_ENTRY, REPO_ROOT } from './build.js';
import { onFreePort } from './free-port.js';
import { type ExitStatus, type ManagedProcess, spawnLogged, waitUntilReady } from './process.js';

/** Beyond the instance's own `server.shutdown_grace`, before a stop turns into SIGKILL. */
const STOP_MARGIN_MS = 5_000;

/** One running jwt-cluster process on a loopback port. */
export interface ClusterInstance {
  /** `jwt-1`, `jwt-2`, …: its `INSTANCE_ID`, echoed in `X-Instance-Id`. */
  readonly id: string;
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly logFile: string;
  readonly exited: Promise<ExitStatus>;
  running(): boolean;
  /** Sends `signal` (default SIGTERM: drain and exit 0) and resolves with how the process ended. */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus>;
}

/** Everything one instance needs from its cluster. */
export interface InstanceEnv {
  configFile: string;
  redisUrl: string;
  databaseUrl: string;
  refreshSecret: string;
  /** The instances' `server.shutdown_grace` in ms. */
  shutdownGraceMs: number;
  /** Run the compiled `dist/main.js`, as the image does, instead of `src/main.ts` through tsx. */
  compiled: boolean;
}

/** Whether an instance at `url` answers `/health/ready` with 200 within a second. */
export async function isReady(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

function wrap(id: string, port: number, proc: ManagedProcess, stopGraceMs: number): ClusterInstance {
  return {
    id,
    url: `http://127.0.0.1:${port}`,
    port,
    pid: proc.pid,
    logFile: proc.logFile,
    exited: proc.exited,
    running: () => proc.running(),
    stop: (signal = 'SIGTERM') => proc.stop(signal, stopGraceMs),
  };
}

/**
 * Starts `src/main.ts` (one node process, `--import tsx`, so the pid is the server's own and
 * signals reach it directly), or `dist/main.js` when `env.compiled`, with the image's runtime
 * flags (`NODE_FLAGS`) and instance id `id` on a free port (another if that one was taken
 * meanwhile), and waits for `/health/ready`.
 */
export function startInstance(id: string, env: InstanceEnv, logDir: string): Promise<ClusterInstance> {
  return onFreePort((port) => startInstanceOn(port, id, env, logDir));
}

async function startInstanceOn(port: number, id: string, env: InstanceEnv, logDir: string): Promise<ClusterInstance> {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    CONFIG_FILE: env.configFile,
    PORT: String(port),
    INSTANCE_ID: id,
    REDIS_URL: env.redisUrl,
    DATABASE_URL: env.databaseUrl,
    REFRESH_SECRET: env.refreshSecret,
  };
  delete childEnv['LOG_LEVEL'];
  delete childEnv['LOG_MODE'];
  const entry = env.compiled ? [DIST_ENTRY] : ['--import', 'tsx', 'src/main.ts'];
  const proc = spawnLogged(id, process.execPath, [...NODE_FLAGS, ...entry], {
    logFile: join(logDir, `${id}.log`),
    env: childEnv,
    cwd: REPO_ROOT,
  });
  const instance = wrap(id, port, proc, env.shutdownGraceMs + STOP_MARGIN_MS);
  try {
    await waitUntilReady(proc, () => isReady(instance.url), 30_000);
  } catch (error) {
    await proc.stop('SIGKILL');
    throw error;
  }
  return instance;
}
