import { createServer, type AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { CleanupStack, tempDir } from '../../scripts/cluster/cleanup.js';
import { freePort } from '../../scripts/cluster/free-port.js';
import { retryWhilePortTaken, startRedis } from '../../scripts/cluster/redis.js';

const cleanup = new CleanupStack();
afterAll(() => cleanup.run());

describe('throwaway redis-server start-up', () => {
  it('starts again on new ports when one it was given was taken meanwhile (as a Redis Cluster bus port was, once, in CI)', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    cleanup.add(() => new Promise<void>((resolve) => holder.close(() => resolve())));
    const busPorts = [(holder.address() as AddressInfo).port];
    const dir = tempDir(cleanup, 'jwt-redis-retry-');
    const failures: string[] = [];
    const server = await retryWhilePortTaken(async () => {
      const busPort = busPorts.shift() ?? (await freePort());
      return startRedis(dir, { name: 'redis-retry', args: ['--cluster-enabled', 'yes', '--cluster-port', String(busPort)] }).catch((error: unknown) => {
        failures.push(String(error));
        throw error;
      });
    });
    cleanup.add(() => server.stop());
    expect(failures).toHaveLength(1);
    expect(failures[0]).toContain('Address already in use');
    expect(server.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
  });

  it('gives up after its attempts, and at once on any other failure', async () => {
    let calls = 0;
    const taken = () => {
      calls += 1;
      return Promise.reject(new Error('redis exited during start-up (code 1): bind: Address already in use'));
    };
    await expect(retryWhilePortTaken(taken, 3)).rejects.toThrow('Address already in use');
    expect(calls).toBe(3);
    calls = 0;
    const broken = () => {
      calls += 1;
      return Promise.reject(new Error('redis exited during start-up (code 1): Bad directive'));
    };
    await expect(retryWhilePortTaken(broken, 3)).rejects.toThrow('Bad directive');
    expect(calls).toBe(1);
  });
});
