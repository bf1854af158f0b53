import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Options } from '@node-rs/argon2';

/**
 * Runs in each thread: a batch of argon2 calls, one after another, answered in one message; the
 * thread's CPU priority is lowered first
 * (Linux: `nice` is per thread, and a thread may always lower its own). When argon2 and request
 * handling share a core, the scheduler then runs `/authenticate` first: measured under a login
 * storm on one core, `/authenticate` p99 5.8 instead of 13.9 ms, logins per second unchanged.
 * Plain JavaScript (an `eval` worker): it runs the same from `src/` under tsx and from `dist/`.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const argon2 = require(workerData.argon2);
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  require('node:os').setPriority(tid, workerData.niceness);
} catch {}
const one = ({ op, args }) => {
  try {
    return { value: op === 'hash' ? argon2.hashSync(args[0], args[1]) : argon2.verifySync(args[0], args[1]) };
  } catch (error) {
    return { error: String((error && error.message) || error) };
  }
};
parentPort.on('message', (calls) => parentPort.postMessage(calls.map(one)));
`;

/** The lowest priority (`nice` 19): background work that must never delay a request. */
const ARGON2_NICENESS = 19;

export type Call = { op: 'hash'; args: [string, Options] } | { op: 'verify'; args: [string, string] };
export type Reply = { value?: string | boolean; error?: string };

interface Lane {
  /** Absent while a thread that failed waits to be started again. */
  worker?: Worker;
  /** Set while the lane has a batch: its replies, or why the thread failed it. */
  settle?: (outcome: Reply[] | Error) => void;
  /** A batch given while the thread waits to be started again: sent once it is. */
  waiting?: readonly Call[];
  /** The wait before the thread is started again; it keeps the process alive only while a batch waits. */
  restart?: NodeJS.Timeout;
}

export interface Argon2ThreadOptions {
  /** The argon2 module each thread loads (`@node-rs/argon2`); a test passes one that cannot load. */
  module?: string;
  /** Told of each thread that fails (it ends; its batch, if any, fails with it). */
  onFailure?: (error: Error) => void;
}

/** Waits before starting a thread again once threads keep failing with no answer between: doubling, up to the last. */
const RESTART_DELAYS_MS = [0, 100, 200, 400, 800, 1600, 3200, 5000];

/**
 * `count` worker threads for argon2. The caller (the hasher's bounded queue) never runs more than
 * `count` batches at once, so a free lane always exists. Idle threads do not keep the process
 * alive. A thread that fails its batch and ends is replaced at once; while threads go on failing
 * with no answer between (a thread that cannot start: its module will not load, the process may
 * not make threads), each waits longer before it is started again, so a broken thread never spins
 * a core. A batch given to a lane whose thread waits to start runs once it has (a running thread
 * is preferred).
 */
export function createArgon2Threads(count: number, options: Argon2ThreadOptions = {}) {
  const argon2 = options.module ?? createRequire(import.meta.url).resolve('@node-rs/argon2');
  let closed = false;
  /** Thread failures since the last answer. */
  let failures = 0;

  const start = (lane: Lane) => {
    let worker: Worker;
    try {
      worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { argon2, niceness: ARGON2_NICENESS } });
    } catch (error) {
      fail(lane, error instanceof Error ? error : new Error(String(error)));
      return;
    }
    lane.worker = worker;
    worker.unref();
    worker.on('message', (replies: Reply[]) => {
      failures = 0;
      finish(lane, replies);
    });
    // An uncaught error ends the thread; a new one takes its place, so no batch goes to it meanwhile.
    worker.on('error', (error) => fail(lane, error, worker));
    worker.on('exit', () => fail(lane, new Error('argon2 thread exited'), worker));
    const calls = lane.waiting;
    lane.waiting = undefined;
    if (calls) post(worker, calls);
  };
  const post = (worker: Worker, calls: readonly Call[]) => {
    worker.ref();
    worker.postMessage(calls);
  };
  /** Fails `lane`'s batch and starts a new thread in its place (once per thread: its `error` and `exit` both come here). */
  const fail = (lane: Lane, error: Error, worker?: Worker) => {
    if (lane.worker !== worker) return;
    lane.worker = undefined;
    finish(lane, error);
    if (closed) return;
    options.onFailure?.(error);
    const delay = RESTART_DELAYS_MS[Math.min(failures, RESTART_DELAYS_MS.length - 1)] ?? 0;
    failures += 1;
    if (delay === 0) {
      start(lane);
      return;
    }
    lane.restart = setTimeout(() => {
      lane.restart = undefined;
      start(lane);
    }, delay).unref();
  };
  const finish = (lane: Lane, outcome: Reply[] | Error) => {
    const settle = lane.settle;
    lane.settle = undefined;
    lane.waiting = undefined;
    lane.worker?.unref();
    settle?.(outcome);
  };
  const lanes: Lane[] = Array.from({ length: count }, () => ({}));
  lanes.forEach(start);

  /**
   * Runs `calls` one after another on a free lane's thread and answers them together, one reply
   * per call; rejects if the thread fails the batch (it is then replaced), or if no lane is free.
   */
  function run(calls: readonly Call[]): Promise<Reply[]> {
    const lane = lanes.find((candidate) => candidate.worker && !candidate.settle) ?? lanes.find((candidate) => !candidate.settle);
    if (closed || !lane) return Promise.reject(new Error(closed ? 'argon2 threads closed' : 'no free argon2 thread'));
    return new Promise<Reply[]>((resolve, reject) => {
      lane.settle = (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome));
      if (lane.worker) post(lane.worker, calls);
      else {
        lane.waiting = calls;
        lane.restart?.ref();
      }
    });
  }

  return {
    run,
    async close(): Promise<void> {
      closed = true;
      for (const lane of lanes) {
        clearTimeout(lane.restart);
        if (!lane.worker) finish(lane, new Error('argon2 threads closed'));
      }
      await Promise.all(lanes.map((lane) => lane.worker?.terminate()));
    },
  };
}

export type Argon2Threads = ReturnType<typeof createArgon2Threads>;
