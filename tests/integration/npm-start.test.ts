import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CleanupStack, tempDir } from '../../scripts/cluster/cleanup.js';
import { onFreePort } from '../../scripts/cluster/free-port.js';
import { spawnLogged, waitUntilReady } from '../../scripts/cluster/process.js';

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
    const cleanup = new CleanupStack();
    onTestFinished(() => cleanup.run());
    const dir = tempDir(cleanup, 'npm-start-');
    const config = join(dir, 'config.yml');
    writeFileSync(config, `database:\n  data_dir: ${join(dir, 'data')}\n`);
    // On another port if this one was taken before the server bound it.
    const { npm, port } = await onFreePort(async (port) => {
      const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), CONFIG_FILE: config, LOG_LEVEL: 'warn' };
      for (const name of ['REDIS_URL', 'DATABASE_URL', 'REFRESH_SECRET']) delete env[name];
      // Its own process group (reaped should this run be killed first); what is left of it when the
      // test ends (the server, had npm exited alone) goes with it, before the dir.
      const npm = spawnLogged('npm start', 'npm', ['start'], { logFile: join(dir, 'npm-start.log'), env });
      cleanup.add(() => {
        try {
          process.kill(-npm.pid, 'SIGKILL');
        } catch {
          // The group is gone already.
        }
      });
      await waitUntilReady(npm, async () => (await ping(port)) === 200, 45_000);
      return { npm, port };
    });
    npm.signal('SIGTERM');
    expect(await npm.waitForExit(20_000), 'npm exited within 20 s of SIGTERM').toBeDefined();
    await expect.poll(() => ping(port), { timeout: 15_000, interval: 250 }).toBe('refused');
  }, 90_000);
});
