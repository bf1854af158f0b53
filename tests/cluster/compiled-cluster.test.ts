import { readFileSync } from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { buildService } from '../../scripts/cluster/build.js';
import { startCluster } from '../../scripts/cluster/cluster.js';
import { NODE_FLAGS } from '../../src/node-flags.js';
import { freshDatabase, testRedisUrl, uniquePrefix } from '../helpers/services.js';
import { call, registerUser } from '../helpers/test-app.js';

/** The soak's cluster: instances started from `dist/main.js` (as the image runs them), not through tsx. */
describe('a cluster of compiled instances', () => {
  it('runs node NODE_FLAGS dist/main.js behind nginx', async () => {
    buildService(); // the repository's dist/, which `compiled` runs
    const cluster = await startCluster({
      instances: 1,
      port: 0,
      compiled: true,
      redisUrl: testRedisUrl(),
      databaseUrl: await freshDatabase(),
      keyPrefix: uniquePrefix(),
      rateLimits: false,
    });
    onTestFinished(() => cluster.stop());

    const [instance] = cluster.instances;
    const argv = readFileSync(`/proc/${instance!.pid}/cmdline`, 'utf8').split('\0').slice(1, -1);
    expect(argv).toEqual([...NODE_FLAGS, 'dist/main.js']);
    const user = await registerUser(cluster.url);
    const answer = await call(cluster.url, 'GET', '/authenticate', { token: user.accessToken });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-instance-id')).toBe('jwt-1');
  }, 60_000);
});
