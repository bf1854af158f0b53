import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { childPids } from '../../scripts/cluster/child-pids.js';
import { REAPER_GRACE_MS } from '../../scripts/cluster/orphan-reaper.js';
import { readProcStat } from '../../src/util/proc-stat.js';
import { TSX_LOADER } from '../helpers/tsx-loader.js';

/** Running: not ended, nor a zombie waiting for whoever adopted it to reap it (a container's pid 1 may never). */
const alive = (pid: number) => {
  const state = readProcStat(`/proc/${pid}/stat`)?.(3);
  return state !== undefined && state !== 'Z';
};

/**
 * `spawnLogged`'s children outlive a parent killed with SIGKILL (no exit hook runs) unless the
 * reaper stops them: `npm run cluster`, a test run or the bench killed that way left Redis,
 * PostgreSQL, nginx and instances running.
 */
describe('orphan reaper', () => {
  it('stops the process groups of a SIGKILLed parent (SIGTERM, then SIGKILL for one that ignores it), then removes its temp dirs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orphans-'));
    const parent = spawn(process.execPath, ['--import', TSX_LOADER, fileURLToPath(new URL('../helpers/orphan-parent.ts', import.meta.url)), dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 30_000,
      killSignal: 'SIGKILL',
    });
    try {
      const [line] = (await once(createInterface({ input: parent.stdout }), 'line')) as [string];
      const { group, stubborn, dir: made } = JSON.parse(line) as { group: number; stubborn: number; dir: string };
      expect(existsSync(join(made, 'children.log'))).toBe(true);
      const grandchild = childPids(group)[0];
      if (grandchild === undefined) throw new Error('the shell started no sleep of its own');
      const pids = [group, grandchild, stubborn];
      expect(pids.every(alive)).toBe(true);

      parent.kill('SIGKILL');
      await once(parent, 'exit');
      // The whole group (the leader and the sleep it started) ends, and so does the child that
      // ignores SIGTERM: only the SIGKILL that follows can have ended it.
      const within = { timeout: REAPER_GRACE_MS + 10_000, interval: 100 };
      await expect.poll(() => [group, grandchild].some(alive), within).toBe(false);
      await expect.poll(() => alive(stubborn), within).toBe(false);
      // Then the parent's temp dir goes.
      await expect.poll(() => existsSync(made), within).toBe(false);
    } finally {
      parent.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
