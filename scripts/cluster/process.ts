import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { reapIfOrphaned } from './orphan-reaper.js';

/** How a child process ended: an exit code, or the signal that killed it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process whose output goes to a log file. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Where this process's output begins in `logFile` (bytes): a process started again appends to the same file. */
  readonly logOffset: number;
  /** Settles once, when the process has exited (or failed to spawn: code `null`, signal `null`). */
  readonly exited: Promise<ExitStatus>;
  /** Whether the process is still running. */
  running(): boolean;
  /** Sends `signal` if the process is still running. */
  signal(signal: NodeJS.Signals): void;
  /** How it ended, or `undefined` if it is still running after `timeoutMs`. */
  waitForExit(timeoutMs: number): Promise<ExitStatus | undefined>;
  /** Sends `signal`; escalates to SIGKILL after `graceMs`. Resolves with how it ended. */
  stop(signal: NodeJS.Signals, graceMs?: number): Promise<ExitStatus>;
}

export interface SpawnOptions {
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const DEFAULT_GRACE_MS = 10_000;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last resort when this process exits without stopping its children: must be synchronous. */
function killLiveChildren(): void {
  for (const child of live) child.kill('SIGKILL');
}

/** Spawns `command args` with stdout and stderr appended to `logFile`. */
export function spawnLogged(name: string, command: string, args: readonly string[], options: SpawnOptions): ManagedProcess {
  if (!exitHookInstalled) {
    process.once('exit', killLiveChildren);
    exitHookInstalled = true;
  }
  const log = openSync(options.logFile, 'a');
  const logOffset = fstatSync(log).size;
  // Own process group: a terminal's Ctrl-C reaches only the parent, which stops children in order.
  const child = spawn(command, args, { stdio: ['ignore', log, log], env: options.env ?? process.env, cwd: options.cwd, detached: true });
  closeSync(log);
  live.add(child);
  // The exit hook above does not run when this process is killed (SIGKILL): the reaper then stops it.
  const reaped = child.pid === undefined ? () => undefined : reapIfOrphaned(child.pid);
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  }).finally(() => {
    live.delete(child);
    reaped();
  });
  let done = false;
  void exited.then(() => (done = true));

  const signal = (sig: NodeJS.Signals): void => {
    if (!done) child.kill(sig);
  };
  const waitForExit = (timeoutMs: number) => Promise.race([exited, sleep(timeoutMs, undefined, { ref: false })]);
  return {
    name,
    pid: child.pid ?? -1,
    logFile: options.logFile,
    logOffset,
    exited,
    running: () => !done,
    signal,
    waitForExit,
    async stop(sig, graceMs = DEFAULT_GRACE_MS) {
      signal(sig);
      if (!(await waitForExit(graceMs))) signal('SIGKILL');
      return exited;
    },
  };
}

/** The last lines of a log file (of what was written from byte `from` on), for error messages. */
export function logTail(logFile: string, lines = 15, from = 0): string {
  try {
    return readFileSync(logFile).subarray(from).toString('utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Polls `ready` every 100 ms until it answers true; fails at once if the process exits and
 * after `timeoutMs` otherwise, quoting the end of its log (this start's lines only). A `ready`
 * answered while the process has exited came from another server on its port: not ready.
 */
export async function waitUntilReady(proc: ManagedProcess, ready: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.running()) {
      const { code, signal } = await proc.exited;
      throw new Error(`${proc.name} exited during start-up (${signal ?? `code ${code}`}):\n${logTail(proc.logFile, 15, proc.logOffset)}`);
    }
    if ((await ready()) && proc.running()) return;
    await sleep(100);
  }
  throw new Error(`${proc.name} was not ready within ${timeoutMs / 1000}s:\n${logTail(proc.logFile, 15, proc.logOffset)}`);
}
