/**
 * One of several processes racing for data-directory locks (`tests/unit/data-dir-lock.test.ts`).
 * Arguments: a base directory, a trial count and the spacing (ms). It prints `ready`, then reads
 * a wall-clock start (ms) from stdin. Trial `i` calls `lockDataDir(<base>/<i>)` at start + i ×
 * spacing: it sleeps until 2 ms before, then spins until that moment, so the racers collide. It prints one JSON line of
 * outcomes, then holds every lock it won until stdin closes: a winner that exited would leave
 * its locks stale for a racer that came late.
 */
import { once } from 'node:events';
import { join } from 'node:path';
import { lockDataDir } from '../../src/users/data-dir-lock.js';

const [base = '', trials = '0', spacing = '0'] = process.argv.slice(2);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

process.stdout.write('ready\n');
const [chunk] = (await once(process.stdin, 'data')) as [Buffer];
const startAt = Number(chunk.toString());
const outcomes: string[] = [];
let late = 0;
for (let i = 0; i < Number(trials); i++) {
  const at = startAt + i * Number(spacing);
  if (now() > at) late += 1;
  if (at - now() > 2) sleep(at - now() - 2);
  while (now() < at);
  try {
    lockDataDir(join(base, String(i)));
    outcomes.push('held');
  } catch (error) {
    outcomes.push(/in use by process \d+/.test(String(error)) ? 'refused' : `error: ${String(error)}`);
  }
}
process.stdout.write(`${JSON.stringify({ outcomes, late })}\n`);
process.stdin.on('end', () => process.exit(0));
