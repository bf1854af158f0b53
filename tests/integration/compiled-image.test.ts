import { copyFileSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { buildService } from '../../scripts/cluster/build.js';
import { CleanupStack, tempDir } from '../../scripts/cluster/cleanup.js';
import { onFreePort } from '../../scripts/cluster/free-port.js';
import { spawnLogged, waitUntilReady } from '../../scripts/cluster/process.js';
import { NODE_FLAGS } from '../../src/node-flags.js';
import { call, PASSWORD, uniqueEmail } from '../helpers/test-app.js';

const root = resolve(import.meta.dirname, '../..');

/**
 * The image runs `node <NODE_FLAGS> dist/main.js`, compiled code beside `drizzle/`,
 * `assets/` and `config.yml`, where every other test runs the TypeScript sources: a path that
 * resolves from `src/` but not from `dist/` (migrations, the common-password list) would pass
 * them all and fail only in the image. The Dockerfile's two stages, laid out in a temp dir.
 */
describe('the compiled service, laid out as the image runs it', () => {
  it('dist/main.js migrates, registers, authenticates and stops with exit 0 on SIGTERM', async () => {
    const cleanup = new CleanupStack();
    onTestFinished(() => cleanup.run());
    const app = tempDir(cleanup, 'compiled-image-');
    // The build stage: `npm run build`, into this copy's dist/.
    buildService(join(app, 'dist'));
    // The runtime stage's COPY lines (package.json marks dist/ as ES modules).
    for (const file of ['package.json', 'config.yml']) copyFileSync(join(root, file), join(app, file));
    for (const dir of ['node_modules', 'drizzle', 'assets']) symlinkSync(join(root, dir), join(app, dir));

    // On another port if this one was taken before the server bound it.
    const { server, base } = await onFreePort(async (port) => {
      const env = { PATH: process.env['PATH'] ?? '', HOME: app, NODE_ENV: 'production', PORT: String(port), LOG_MODE: 'json', LOG_LEVEL: 'warn' };
      const server = spawnLogged('dist/main.js', process.execPath, [...NODE_FLAGS, 'dist/main.js'], { logFile: join(app, 'server.log'), env, cwd: app });
      cleanup.add(() => server.stop('SIGKILL'));
      const base = `http://127.0.0.1:${port}`;
      await waitUntilReady(server, () => fetch(`${base}/health/ready`).then((response) => response.ok, () => false), 60_000);
      return { server, base };
    });

    const registered = await call(base, 'POST', '/register', { body: { email: uniqueEmail(), password: PASSWORD } });
    expect(registered.status).toBe(201);
    const weak = await call(base, 'POST', '/register', { body: { email: uniqueEmail(), password: 'password1234' } });
    expect(weak.body?.error, 'the common-password list was read').toBe('weak_password');
    const authenticated = await call(base, 'GET', '/authenticate', { token: registered.body?.access_token as string });
    expect(authenticated.status).toBe(200);

    server.signal('SIGTERM');
    expect(await server.waitForExit(20_000)).toEqual({ code: 0, signal: null });
  }, 120_000);
});
