/**
 * A parent that starts children with `spawnLogged` in a `tempDir` and is then killed
 * (`tests/integration/orphan-reaper.test.ts`). Argument: the temp dir's parent. Starts a shell
 * whose group holds two `sleep`s, and a `sleep` that ignores SIGTERM; prints one JSON line with
 * their pids and the dir once both are set up, then waits to be killed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CleanupStack, tempDir } from '../../scripts/cluster/cleanup.js';
import { spawnLogged } from '../../scripts/cluster/process.js';

const [parent = ''] = process.argv.slice(2);
const dir = tempDir(new CleanupStack(), 'orphans-', parent);
const logFile = join(dir, 'children.log');
const ready = (name: string) => join(dir, `${name}.ready`);
// A non-interactive shell has no job control: its background sleep stays in its group. Each
// shell marks itself ready once set up (the sleep forked, the trap set).
const group = spawnLogged('group', 'sh', ['-c', 'sleep 61 & : > "$1"; exec sleep 62', 'sh', ready('group')], { logFile });
// An ignored signal stays ignored across exec: only SIGKILL stops this one.
const stubborn = spawnLogged('stubborn', 'sh', ['-c', 'trap "" TERM; : > "$1"; exec sleep 63', 'sh', ready('stubborn')], { logFile });
const deadline = Date.now() + 15_000;
while (!existsSync(ready('group')) || !existsSync(ready('stubborn'))) {
  if (Date.now() > deadline) throw new Error('the shells did not start within 15 s');
  await sleep(20);
}
process.stdout.write(`${JSON.stringify({ group: group.pid, stubborn: stubborn.pid, dir })}\n`);
setInterval(() => undefined, 60_000);
