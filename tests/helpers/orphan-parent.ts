/**
 * A parent that starts children with `spawnLogged` in a `tempDir` and is then killed
 * (`tests/integration/orphan-reaper.test.ts`). Argument: the temp dir's parent. Starts a shell
 * whose group holds two `sleep`s, and a `sleep` that ignores SIGTERM; prints one JSON line with
 * their pids and the dir, then waits to be killed.
 */
import { join } from 'node:path';
import { CleanupStack, tempDir } from '../../scripts/cluster/cleanup.js';
import { spawnLogged } from '../../scripts/cluster/process.js';

const [parent = ''] = process.argv.slice(2);
const dir = tempDir(new CleanupStack(), 'orphans-', parent);
const logFile = join(dir, 'children.log');
// A non-interactive shell has no job control: its background sleep stays in its group.
const group = spawnLogged('group', 'sh', ['-c', 'sleep 61 & exec sleep 62'], { logFile });
// An ignored signal stays ignored across exec: only SIGKILL stops this one.
const stubborn = spawnLogged('stubborn', 'sh', ['-c', "trap '' TERM; exec sleep 63"], { logFile });
// A child that ended while the parent ran is no longer the reaper's.
const ended = spawnLogged('ended', 'true', [], { logFile });
await ended.exited;
process.stdout.write(`${JSON.stringify({ group: group.pid, stubborn: stubborn.pid, dir })}\n`);
setInterval(() => undefined, 60_000);
