import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/cluster/free-port.js';

const ping = (port: number) =>
  fetch(`http://127.0.0.1:${port}/ping`).then(
    (response) => response.status,
    () => 'refused' as const,
  );

/**
 * The README's first command, as a newcomer runs it: `npm start &` in the background, stopped
 * later with `kill $!` — a SIGTERM to npm itself. npm passes it only to its own child, so the
 * script must `exec` into the server (it was a shell that waited, and the server ran on).
 */
describe('npm start', () => {
  it('serves the embedded default, and a SIGTERM to npm stops the server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'npm-start-'));
    const config = join(dir, 'config.yml');
    writeFileSync(config, `database:\n  data_dir: ${join(dir, 'data')}\n`);
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), CONFIG_FILE: config, LOG_LEVEL: 'warn' };
    for (const name of ['REDIS_URL', 'DATABASE_URL', 'REFRESH_SECRET']) delete env[name];
    // Its own process group, so that whatever is left can be stopped as one.
    const npm = spawn('npm', ['start'], { env, stdio: 'ignore', detached: true });
    try {
      await expect.poll(() => ping(port), { timeout: 45_000, interval: 250 }).toBe(200);
      const exited = once(npm, 'exit');
      npm.kill('SIGTERM');
      await exited;
      await expect.poll(() => ping(port), { timeout: 15_000, interval: 250 }).toBe('refused');
    } finally {
      try {
        process.kill(-(npm.pid as number), 'SIGKILL');
      } catch {
        // The group is gone already.
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
