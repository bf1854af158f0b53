import { setTimeout as sleep } from 'node:timers/promises';
import calculateSlot from 'cluster-key-slot';
import type { Cluster } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CleanupStack } from '../../scripts/cluster/cleanup.js';
import { type LocalRedisCluster, startRedisCluster } from '../../scripts/cluster/redis-cluster.js';
import { redisCli } from '../../scripts/cluster/redis.js';
import { configSchema, revocationReplicas } from '../../src/config/schema.js';
import { connectRedis } from '../../src/sessions/redis-connection.js';
import { createRedisSessionStore } from '../../src/sessions/redis-session-store.js';
import { uniquePrefix } from '../helpers/services.js';
import { sessionStoreContract } from '../helpers/session-store-contract.js';
import { call, registerUser, stopTestInstances, testCluster, type TestInstance } from '../helpers/test-app.js';

/**
 * `cache.revocation_replicas` on Redis Cluster (3 masters, one replica each): a revocation is
 * answered only once a replica of the master serving the user's slot holds it (WAIT on that
 * master's connection), so a failover that promotes the replica cannot bring the session back.
 */
const logger = pino({ level: 'silent' });
const cleanup = new CleanupStack();
let group: LocalRedisCluster;

beforeAll(async () => {
  group = await startRedisCluster(cleanup, { replicas: 1 });
}, 60_000);
// The instances first, while the servers they use are still up.
afterAll(async () => {
  await stopTestInstances();
  await cleanup.run();
});

const clusterCache = (extra: Record<string, unknown> = {}) => configSchema.parse({ cache: { cluster: { nodes: group.nodes }, ...extra } }).cache;

sessionStoreContract('Redis Cluster with replicas, revocations acknowledged', async (policy) => {
  // Generous waits: a replica on a loaded test machine once took longer than the service's 250 ms
  // (a 503 the contract does not expect). WAIT, like every command, must end within the command
  // timeout. The 503 itself is tested below, with a replica stopped.
  const cache = clusterCache({ command_timeout: '5s', revocation_replicas: 1 });
  const [redis, revocations] = await Promise.all([connectRedis(cache, { logger }), connectRedis(cache, { logger })]);
  const store = createRedisSessionStore({ redis, prefix: uniquePrefix(), policy, replicated: { redis: revocations, replicas: 1, waitMs: 2_000 } });
  return { store, cleanup: () => store.close() };
});

describe('revocations on Redis Cluster wait for a replica of the user’s master', () => {
  let one: TestInstance;
  let topology: Cluster;

  beforeAll(async () => {
    const app = await testCluster({ cache: { url: undefined, cluster: { nodes: group.nodes }, command_timeout: '500ms', revocation_replicas: 1 } });
    expect(revocationReplicas(app.config.cache)).toBe(1);
    one = await app.start();
    topology = (await connectRedis(clusterCache({ revocation_replicas: 1 }), { logger })) as Cluster;
    cleanup.add(async () => void topology.disconnect());
  }, 30_000);

  /**
   * The server of the replica of the master serving `userId`'s slot (`{userId}` is every key's hash
   * tag), and that of another master's replica, from a fresh slot map (a replica is listed once
   * the nodes have gossiped it).
   */
  const replicasFor = async (userId: string) => {
    const serverOf = (nodeKey: string | undefined) => group.servers.find((server) => `127.0.0.1:${server.port}` === nodeKey);
    const deadline = performance.now() + 10_000;
    for (;;) {
      await new Promise<void>((resolve) => topology.refreshSlotsCache(() => resolve()));
      const [master, replica] = topology.slots[calculateSlot(`{${userId}}`)] ?? [];
      const other = topology.slots.find((nodes) => nodes[0] !== master && nodes[1] !== undefined);
      const own = serverOf(replica);
      const elsewhere = serverOf(other?.[1]);
      if (own && elsewhere) return { own, elsewhere };
      if (performance.now() > deadline) throw new Error(`replicas not found for the slot of ${userId}: ${JSON.stringify(topology.slots[calculateSlot(`{${userId}}`)])}`);
      await sleep(100);
    }
  };

  it('with that replica stopped, a logout answers 503 but holds on the master, and 204 once it is back; another master’s replica stopped changes nothing', async () => {
    // Several users, so that their slots fall on different masters: a WAIT sent to the wrong one passes by chance only.
    for (let round = 0; round < 4; round++) {
      const user = await registerUser(one.url);
      const other = await call(one.url, 'POST', '/login', { body: { email: user.email, password: user.password } });
      expect(other.status).toBe(200);
      const { own, elsewhere } = await replicasFor(user.userId);

      elsewhere.process.signal('SIGSTOP');
      try {
        expect((await call(one.url, 'POST', '/logout', { token: other.body?.access_token as string })).status, `round ${round}`).toBe(204);
        // Repeated with its refresh token (the session is gone): confirmed on the user's master only.
        expect((await call(one.url, 'POST', '/logout', { body: { refresh_token: other.body?.refresh_token as string } })).status, `round ${round}`).toBe(204);
      } finally {
        elsewhere.process.signal('SIGCONT');
      }

      own.process.signal('SIGSTOP');
      try {
        const started = performance.now();
        const logout = await call(one.url, 'POST', '/logout', { token: user.accessToken });
        expect(logout, `round ${round}`).toMatchObject({ status: 503, body: { error: 'unavailable' } });
        expect(logout.headers.get('retry-after')).toBe('1');
        expect(performance.now() - started).toBeLessThan(2_000);
        // Not acknowledged by a replica, yet in force on the master.
        expect((await call(one.url, 'GET', '/authenticate', { token: user.accessToken })).status).toBe(401);
      } finally {
        own.process.signal('SIGCONT');
      }
      // The client's retry: idempotent, and acknowledged now.
      await expect.poll(async () => (await call(one.url, 'POST', '/logout', { token: user.accessToken })).status, { timeout: 10_000 }).toBe(204);
    }
  });

  it('logout-all and a refresh-token reuse wait for that replica too', async () => {
    const user = await registerUser(one.url);
    const rotated = await call(one.url, 'POST', '/refresh', { body: { refresh_token: user.refreshToken } });
    const next = await call(one.url, 'POST', '/refresh', { body: { refresh_token: rotated.body?.refresh_token as string } });
    expect(next.status).toBe(200);
    const { own } = await replicasFor(user.userId);
    own.process.signal('SIGSTOP');
    try {
      // Two generations back: reuse. The family ends on the master, and the answer waits for the replica.
      expect((await call(one.url, 'POST', '/refresh', { body: { refresh_token: user.refreshToken } })).status).toBe(503);
      expect((await call(one.url, 'GET', '/authenticate', { token: next.body?.access_token as string })).status).toBe(401);
      const fresh = await call(one.url, 'POST', '/login', { body: { email: user.email, password: user.password } });
      expect(fresh.status).toBe(200);
      expect((await call(one.url, 'POST', '/logout-all', { token: fresh.body?.access_token as string })).status).toBe(503);
      expect((await call(one.url, 'GET', '/authenticate', { token: fresh.body?.access_token as string })).status).toBe(401);
    } finally {
      own.process.signal('SIGCONT');
    }
  });

  // Last: it moves a master.
  it('after a failover of the user’s master, revocations follow the slot to its new master', async () => {
    const user = await registerUser(one.url);
    const { own } = await replicasFor(user.userId);
    await redisCli(own.port, ['CLUSTER', 'FAILOVER']);
    await expect.poll(async () => (await redisCli(own.port, ['ROLE'])).split('\n')[0], { timeout: 15_000 }).toBe('master');
    // A 503 or two while the client learns the new owner, then acknowledged by the new master's replica.
    await expect.poll(async () => (await call(one.url, 'POST', '/logout', { token: user.accessToken })).status, { timeout: 15_000, interval: 200 }).toBe(204);
    expect((await call(one.url, 'GET', '/authenticate', { token: user.accessToken })).status).toBe(401);
  });
});
