import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { CLIENT_CPU, pinned } from '../machine.js';
import { REPO_ROOT } from '../../scripts/cluster/build.js';
import type { ColdSummary, LoadJob, LoadSummary, PropagationSummary, StormSummary } from './jobs.js';

type ResultOf<J extends LoadJob> = J extends { kind: 'cold' }
  ? ColdSummary
  : J extends { kind: 'storm' }
    ? StormSummary
    : J extends { kind: 'propagation' }
      ? PropagationSummary
      : LoadSummary;

type Reply = { ready: true } | { id: number; result: unknown } | { id: number; error: string };

/** Margin beyond a job's own bound before the driver calls the worker stuck. */
const JOB_MARGIN_MS = 60_000;

/** Starts the load worker on the client core and returns a handle that runs one job at a time. */
export async function startLoadWorker() {
  const script = join(REPO_ROOT, 'bench', 'load', 'worker.ts');
  const [command, args] = pinned(CLIENT_CPU, process.execPath, ['--import', 'tsx', script]);
  const child: ChildProcess = spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let exited = false;
  const failAll = (error: Error) => {
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };
  child.on('exit', (code, signal) => {
    exited = true;
    failAll(new Error(`load worker exited (${signal ?? `code ${code}`})`));
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', () => reject(new Error('load worker exited during start-up')));
    child.once('error', reject);
  });
  child.on('message', (reply: Reply) => {
    if ('ready' in reply) return;
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if ('error' in reply) waiter?.reject(new Error(`load worker: ${reply.error}`));
    else waiter?.resolve(reply.result);
  });

  return {
    pid: child.pid ?? -1,
    /** Runs `job`; fails if the worker does not answer within the job's bound plus a margin. */
    run<J extends LoadJob>(job: J, boundMs: number): Promise<ResultOf<J>> {
      const id = nextId++;
      return new Promise<ResultOf<J>>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`load worker: ${job.kind} did not finish within ${(boundMs + JOB_MARGIN_MS) / 1000}s`));
        }, boundMs + JOB_MARGIN_MS);
        pending.set(id, {
          resolve: (value) => (clearTimeout(timer), resolve(value as ResultOf<J>)),
          reject: (error) => (clearTimeout(timer), reject(error)),
        });
        child.send({ id, job });
      });
    },
    async stop(): Promise<void> {
      if (exited) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

export type LoadWorker = Awaited<ReturnType<typeof startLoadWorker>>;
