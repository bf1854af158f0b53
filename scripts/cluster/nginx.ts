import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { requireBinary } from './binaries.js';
import { childPids } from './child-pids.js';
import { onPortOrFree } from './free-port.js';
import { type ExitStatus, type ManagedProcess, spawnLogged, waitUntilReady } from './process.js';
import { tcpProbe } from './tcp-probe.js';

const run = promisify(execFile);
const QUIT_GRACE_MS = 5_000;
const RELOAD_TIMEOUT_MS = 10_000;

/** A foreground nginx master (`daemon off`) whose config lives in its own directory. */
export interface LocalNginx {
  process: ManagedProcess;
  confFile: string;
  /**
   * Writes `conf`, checks it with `nginx -t`, then `nginx -s reload`, and resolves once the old
   * workers have finished their requests and exited, so every new connection sees `conf`.
   */
  reload(conf: string): Promise<void>;
  /** Graceful quit (SIGQUIT), then fast (SIGTERM), then SIGKILL. */
  stop(): Promise<ExitStatus>;
}

function binary(): string {
  return requireBinary('nginx', 'nginx-light', ['/usr/sbin', '/usr/local/sbin']);
}

/** Relative paths in a config resolve against the prefix, which must end in a slash. */
function baseArgs(dir: string, confFile: string, globals: string | undefined): string[] {
  return ['-p', dir.endsWith('/') ? dir : `${dir}/`, '-c', confFile, ...(globals ? ['-g', globals] : [])];
}

async function nginxCommand(confFile: string, dir: string, extra: readonly string[], globals?: string): Promise<void> {
  const args = [...baseArgs(dir, confFile, globals), ...extra];
  try {
    await run(binary(), args);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim() ?? String(error);
    throw new Error(`nginx ${extra.join(' ')} failed for ${confFile}:\n${stderr}`);
  }
}

function pidFromFile(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dir, 'nginx.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes `conf` to `dir/nginx.conf`, checks it, starts nginx and waits until `listen`
 * (`host:port`) accepts connections. `globals` are extra main-context directives (`-g`),
 * for configs that do not set their own pid / error_log.
 */
export async function startNginx(dir: string, conf: string, listen: string, globals?: string): Promise<LocalNginx> {
  const [host = '127.0.0.1', port = '0'] = listen.split(':');
  // Otherwise the readiness probe could be answered by whoever holds the port.
  if (await tcpProbe(host, Number(port))) throw new Error(`${listen}: address already in use`);
  const confFile = join(dir, 'nginx.conf');
  writeFileSync(confFile, conf);
  await nginxCommand(confFile, dir, ['-t', '-q'], globals);
  const proc = spawnLogged('nginx', binary(), baseArgs(dir, confFile, globals), { logFile: join(dir, 'nginx.out.log') });
  try {
    await waitUntilReady(proc, () => tcpProbe(host, Number(port)), 10_000);
  } catch (error) {
    await proc.stop('SIGKILL');
    throw error;
  }
  return {
    process: proc,
    confFile,
    async reload(next) {
      writeFileSync(confFile, next);
      await nginxCommand(confFile, dir, ['-t', '-q'], globals);
      const oldWorkers = childPids(proc.pid);
      // `nginx -s reload` signals the pid in the pid file; fall back to the master we spawned.
      if (pidFromFile(dir) === proc.pid) await nginxCommand(confFile, dir, ['-s', 'reload'], globals);
      else proc.signal('SIGHUP');
      // An old worker still accepts and closes keep-alive connections while it shuts down.
      const deadline = Date.now() + RELOAD_TIMEOUT_MS;
      while (childPids(proc.pid).some((pid) => oldWorkers.includes(pid))) {
        if (Date.now() > deadline) throw new Error(`nginx reload: old workers still running after ${RELOAD_TIMEOUT_MS / 1000}s`);
        await sleep(50);
      }
      // An old worker closes its idle keep-alive connections as it exits: one poll of this
      // process's I/O lets its clients (a test's fetch) see those closes before they reuse one,
      // which would fail with "other side closed" (seen once in CI).
      await new Promise((resolve) => setImmediate(resolve));
    },
    async stop() {
      proc.signal('SIGQUIT');
      return (await proc.waitForExit(QUIT_GRACE_MS)) ?? proc.stop('SIGTERM', QUIT_GRACE_MS);
    },
  };
}

/**
 * `startNginx` on 127.0.0.1:`options.port`, or else on a free loopback port (another if that one
 * was taken meanwhile), with the config `confFor` renders for that address.
 */
export function startNginxOnLoopback(dir: string, confFor: (listen: string) => string, options: { port?: number; globals?: string } = {}): Promise<{ listen: string; nginx: LocalNginx }> {
  const start = async (port: number) => {
    const listen = `127.0.0.1:${port}`;
    return { listen, nginx: await startNginx(dir, confFor(listen), listen, options.globals) };
  };
  return onPortOrFree(options.port, start);
}
