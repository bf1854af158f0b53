import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { freePort } from '../../scripts/cluster/free-port.js';
import { reapIfOrphaned, removeIfOrphaned } from '../../scripts/cluster/orphan-reaper.js';

const ping = (port: number) =>
  fetch(`http://127.0.0.1:${port}/ping`).then(
    (response) => response.status,
    () => 'refused' as const,
  );

/**
 * The README's first command, as a newcomer runs it: `npm start &` in the background, stopped
 * later with `kill $!` — a SIGTERM to npm itself. npm passes it only to its own child, so the
 * script must `exec` into the server (it was a shell that waited, and the server ran on), and
 * into node itself: the tsx CLI would relay the signal and SIGKILL a server busy for 30 ms.
 */
describe('npm start', () => {
  it('serves the embedded default, and a SIGTERM to npm stops the server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'npm-start-'));
    const removed = removeIfOrphaned(dir);
    onTestFinished(() => {
      rmSync(dir, { recursive: true, force: true });
      removed();
    });
    const config = join(dir, 'config.yml');
    writeFileSync(config, `database:\n  data_dir: ${join(dir, 'data')}\n`);
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), CONFIG_FILE: config, LOG_LEVEL: 'warn' };
    for (const name of ['REDIS_URL', 'DATABASE_URL', 'REFRESH_SECRET']) delete env[name];
    // Its own process group, stopped as one when the test ends, and by the orphan reaper should
    // this run be killed first.
    const npm = spawn('npm', ['start'], { env, stdio: 'ignore', detached: true });
    const group = npm.pid as number;
    const reaped = reapIfOrphaned(group);
    onTestFinished(() => {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // The group is gone already.
      }
      reaped();
    });
    await expect.poll(() => ping(port), { timeout: 45_000, interval: 250 }).toBe(200);
    npm.kill('SIGTERM');
    await expect.poll(() => npm.exitCode !== null || npm.signalCode !== null, { timeout: 20_000, interval: 100 }).toBe(true);
    await expect.poll(() => ping(port), { timeout: 15_000, interval: 250 }).toBe('refused');
  }, 90_000);
});
