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
  worker: Worker;
  /** Set while the thread runs a batch: its replies, or why the thread failed it. */
  settle?: (outcome: Reply[] | Error) => void;
}

/**
 * `count` worker threads for argon2. The caller (the hasher's bounded queue) never runs more than
 * `count` batches at once, so a free thread always exists. Idle threads do not keep the process
 * alive; a thread that dies fails its batch and is replaced.
 */
export function createArgon2Threads(count: number) {
  const argon2 = createRequire(import.meta.url).resolve('@node-rs/argon2');
  let closed = false;

  const spawn = (): Lane => {
    const lane: Lane = { worker: new Worker(THREAD_SOURCE, { eval: true, workerData: { argon2, niceness: ARGON2_NICENESS } }) };
    lane.worker.unref();
    lane.worker.on('message', (replies: Reply[]) => finish(lane, replies));
    // An uncaught error ends the thread; it is replaced at once, so no batch goes to it meanwhile.
    lane.worker.on('error', (error) => replace(lane, error));
    lane.worker.on('exit', () => replace(lane, new Error('argon2 thread exited')));
    return lane;
  };
  /** Fails `lane`'s batch and puts a new thread in its place (once: its `error` and `exit` both come here). */
  const replace = (lane: Lane, error: Error) => {
    const index = lanes.indexOf(lane);
    if (index < 0) return;
    finish(lane, error);
    if (closed) lanes.splice(index, 1);
    else lanes[index] = spawn();
  };
  const finish = (lane: Lane, outcome: Reply[] | Error) => {
    const settle = lane.settle;
    lane.settle = undefined;
    lane.worker.unref();
    settle?.(outcome);
  };
  const lanes = Array.from({ length: count }, spawn);

  /**
   * Runs `calls` one after another on a free thread and answers them together, one reply per
   * call; rejects if the thread fails the batch (it is then replaced).
   */
  function run(calls: readonly Call[]): Promise<Reply[]> {
    const lane = lanes.find((candidate) => !candidate.settle);
    if (closed || !lane) return Promise.reject(new Error(closed ? 'argon2 threads closed' : 'no free argon2 thread'));
    return new Promise<Reply[]>((resolve, reject) => {
      lane.settle = (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome));
      lane.worker.ref();
      lane.worker.postMessage(calls);
    });
  }

  return {
    run,
    async close(): Promise<void> {
      closed = true;
      await Promise.all(lanes.map((lane) => lane.worker.terminate()));
    },
  };
}

export type Argon2Threads = ReturnType<typeof createArgon2Threads>;
