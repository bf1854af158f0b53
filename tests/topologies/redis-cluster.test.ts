import { randomUUID } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CleanupStack } from '../../scripts/cluster/cleanup.js';
import { redisCli } from '../../scripts/cluster/redis.js';
import { startRedisCluster } from '../../scripts/cluster/redis-cluster.js';
import { configSchema } from '../../src/config/schema.js';
import { createCachedRevocationStore } from '../../src/sessions/cached-revocation-store.js';
import { connectRedis, createRedis } from '../../src/sessions/redis-connection.js';
import { redisKeys } from '../../src/sessions/redis-keys.js';
import { createRedisSessionStore } from '../../src/sessions/redis-session-store.js';
import type { SessionPolicy, SessionStore } from '../../src/sessions/session-store.js';
import { pollUntil } from '../faults/servers.js';
import { monitorRedis } from '../helpers/redis-monitor.js';
import { uniquePrefix } from '../helpers/services.js';
import { basePolicy, login, sessionStoreContract } from '../helpers/session-store-contract.js';
import { call, expectAccepted, registerUser, stopTestInstances, testCluster, type TestInstance } from '../helpers/test-app.js';

/**
 * The service on a local 3-master Redis Cluster (no replicas): the whole session-store contract
 * (plain and cached revocation) through the service's own `createRedis` client, and the HTTP flow
 * through the real app. Any CROSSSLOT or "non local key" error would surface as an
 * UnavailableError (503) and fail the contract.
 */

const logger = pino({ level: 'silent' });
const cleanup = new CleanupStack();
let nodes: string[] = [];

beforeAll(async () => {
  nodes = (await startRedisCluster(cleanup)).nodes;
}, 45_000);
// The instances first, while the servers they use are still up.
afterAll(async () => {
  await stopTestInstances();
  await cleanup.run();
});

const clusterCache = () => configSchema.parse({ cache: { cluster: { nodes } } }).cache;

async function connectCluster(): Promise<Cluster> {
  return (await connectRedis(clusterCache(), { logger })) as Cluster;
}

/** Every key under `prefix`, scanned on every master. */
async function scanKeys(cluster: Cluster, prefix: string): Promise<Map<string, string[]>> {
  const byNode = new Map<string, string[]>();
  for (const node of cluster.nodes('master')) {
    const keys: string[] = [];
    for await (const batch of node.scanStream({ match: `${prefix}*`, count: 200 })) keys.push(...(batch as string[]));
    byNode.set(`${node.options.host}:${node.options.port}`, keys);
  }
  return byNode;
}

/** A store on its own Cluster client under a fresh prefix; cleanup deletes its keys (one by one: they are in many slots). */
async function openClusterStore(policy: SessionPolicy) {
  const prefix = uniquePrefix();
  const redis = await connectCluster();
  const store = createRedisSessionStore({ redis, prefix, policy });
  return {
    store,
    prefix,
    redis,
    cleanup: async () => {
      const keys = [...(await scanKeys(redis, prefix)).values()].flat();
      await Promise.all(keys.map((key) => redis.del(key)));
      await store.close();
    },
  };
}

sessionStoreContract('Redis Cluster', openClusterStore);

/** `openClusterStore` behind the cached revocation mode, its subscription on a Cluster client of its own; resolves once the cache is live. */
async function openCachedClusterStore(policy: SessionPolicy, heartbeatMs?: number) {
  const opened = await openClusterStore(policy);
  const subscriber = createRedis(clusterCache(), { logger, subscriber: true });
  const store: SessionStore & { isLive(): boolean } = createCachedRevocationStore({
    store: opened.store,
    subscriber,
    channel: redisKeys(opened.prefix).revocationChannel,
    maxAgeMs: 10_000,
    maxEntries: 1000,
    logger,
    ...(heartbeatMs ? { heartbeatMs } : {}),
    // Every answer read before a revocation is then a cached one.
    rememberFrom: 'first-read',
  });
  await subscriber.connect();
  // Not expect.poll: the contract's tests run concurrently, where the global expect may belong to
  // no test at this moment ("expect.poll() must be called inside a test", seen once).
  await pollUntil(async () => store.isLive(), 5_000);
  return {
    ...opened,
    store,
    cleanup: async () => {
      subscriber.disconnect();
      await opened.cleanup();
    },
  };
}

sessionStoreContract('Redis Cluster, cached revocation', openCachedClusterStore);

describe('cached revocation on Redis Cluster', () => {
  it('sends its heartbeats through each slot-owning master in turn, so that every master\'s path to the subscription is checked', async () => {
    const { store, cleanup: close } = await openClusterStore(basePolicy);
    // Every node is a master here (no replicas).
    const monitors: Awaited<ReturnType<typeof monitorRedis>>[] = [];
    try {
      for (const node of nodes) monitors.push(await monitorRedis(`redis://${node}`));
      const tag = `hb:test-${randomUUID()}:`;
      // Each turn twice, as after a lost beat: the same turn must take the same master.
      const turns = Array.from({ length: 3 * nodes.length }, (_, turn) => [turn, turn]).flat();
      for (const [beat, turn] of turns.entries()) await store.announce(`${tag}${beat}`, turn);
      await Promise.all(monitors.map((monitor) => monitor.mark('announced')));
      /** The node whose clients' feed shows the beat's PUBLISH (the cluster bus passes it on unseen). */
      const via = (beat: number) =>
        monitors.findIndex((monitor) => monitor.commands.some(([name, , message]) => name?.toLowerCase() === 'publish' && message === `${tag}${beat}`));
      const order = turns.map((_, beat) => via(beat));
      expect(order).not.toContain(-1);
      const byTurn = order.filter((_, beat) => beat % 2 === 0);
      expect(order.filter((_, beat) => beat % 2 === 1)).toEqual(byTurn);
      for (let start = 0; start + nodes.length <= byTurn.length; start += 1) expect(new Set(byTurn.slice(start, start + nodes.length)).size).toBe(nodes.length);
    } finally {
      for (const monitor of monitors) monitor.close();
      await close();
    }
  });

  it('turns the cache off at once when the node connection holding the subscription closes (ioredis moves it to another node unannounced), and back on through the new one', async () => {
    // Beats far apart: only watching the connection itself can notice in time.
    const { store, prefix, redis, cleanup: close } = await openCachedClusterStore(basePolicy, 2_000);
    try {
      const userId = randomUUID();
      const session = await login(store, { userId });
      const claims = { userId, sessionId: session.sessionId, jti: randomUUID(), tokenVersion: session.grant.tokenVersion };
      expect(await store.authenticate(claims)).toBe('ok');
      // Gone from Redis without any announcement: only a cached answer still says ok.
      await redis.del(redisKeys(prefix).session(userId, session.sessionId));
      expect(await store.authenticate(claims)).toBe('ok');
      for (const node of redis.nodes('master')) await node.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      // A revocation published while ioredis subscribes again elsewhere would be lost: from now on
      // answers must come from Redis.
      expect(await pollUntil(async () => (await store.authenticate(claims)) === 'no_session', 200, 5)).toBeLessThan(200);
      await pollUntil(async () => store.isLive(), 10_000);
      expect(await store.authenticate(claims)).toBe('no_session');
    } finally {
      await close();
    }
  });
});

describe('Redis Cluster eviction policy', () => {
  it('refuses to connect when any node may evict keys without a TTL (allkeys-*), not only the one CONFIG GET happens to reach', async () => {
    const port = Number(nodes.at(-1)?.split(':')[1]);
    try {
      await redisCli(port, ['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lfu']);
      await expect(connectCluster()).rejects.toThrow(/maxmemory-policy is "allkeys-lfu"/);
    } finally {
      await redisCli(port, ['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
    }
    const redis = await connectCluster();
    await redis.quit();
  });

  it('a node whose policy cannot be read (CONFIG not allowed) is named in a warning and does not hide an allkeys-* node', async () => {
    const [first, , third] = nodes.map((node) => Number(node.split(':')[1]));
    const warnings: string[] = [];
    const warned = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    try {
      await redisCli(first as number, ['ACL', 'SETUSER', 'default', '-config']);
      await redisCli(third as number, ['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru']);
      await expect(connectRedis(clusterCache(), { logger: warned })).rejects.toThrow(/maxmemory-policy is "allkeys-lru"/);
      expect(warnings.join('')).toMatch(new RegExp(`cannot read redis maxmemory-policy of 127\\.0\\.0\\.1:${first}`));
    } finally {
      await redisCli(third as number, ['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
      await redisCli(first as number, ['ACL', 'SETUSER', 'default', '+config']);
    }
  });
});

describe('authenticate on Redis Cluster', () => {
  it('answers the checks of users on every master after they all lost their scripts (EVALSHA refused, sent again as EVAL)', async () => {
    const { store, redis, cleanup: close } = await openClusterStore(basePolicy);
    try {
      const sessions = await Promise.all(Array.from({ length: 12 }, () => login(store)));
      const denied = randomUUID();
      await store.deny(sessions[0]!.userId, sessions[0]!.sessionId, denied, 60_000);
      expect(await Promise.all(sessions.map((session) => session.authenticate()))).toEqual(sessions.map(() => 'ok'));
      for (const node of redis.nodes('master')) await node.script('FLUSH');
      const answers = await Promise.all([...sessions.map((session) => session.authenticate()), sessions[0]!.authenticate(undefined, denied)]);
      expect(answers).toEqual([...sessions.map(() => 'ok'), 'denied']);
    } finally {
      await close();
    }
  });
});

describe('Redis Cluster key placement', () => {
  it('spreads users over the masters, each user’s keys on one node', async () => {
    const { store, prefix, redis, cleanup: close } = await openClusterStore(basePolicy);
    try {
      const users = Array.from({ length: 24 }, () => randomUUID());
      for (const userId of users) {
        const session = await login(store, { userId });
        await store.deny(userId, session.sessionId, randomUUID(), 60_000);
        await store.endOthers(userId, session.sessionId, ['user']);
      }
      const byNode = await scanKeys(redis, prefix);
      const used = [...byNode.values()].filter((keys) => keys.length > 0);
      expect(used.length).toBeGreaterThanOrEqual(2);
      for (const userId of users) {
        const holding = [...byNode.values()].filter((keys) => keys.some((key) => key.includes(`{${userId}}`)));
        expect(holding).toHaveLength(1);
        expect(new Set(holding[0]?.filter((key) => key.includes(`{${userId}}`)).map((key) => key.replace(/^.*\}:/, '').replace(/:.*$/, '')))).toEqual(
          new Set(['s', 'ss', 'tv', 'd']),
        );
      }
    } finally {
      await close();
    }
  });
});

describe.each(['exact', 'cached'] as const)('service on Redis Cluster, two instances (%s revocation)', (revocation) => {
  let one: TestInstance;
  let two: TestInstance;
  let prefix: string;
  beforeAll(async () => {
    const app = await testCluster({ cache: { url: undefined, cluster: { nodes }, revocation, command_timeout: '500ms' } });
    expect(app.config.cache.cluster?.nodes).toEqual(nodes);
    expect(app.config.cache.url).toBeUndefined();
    prefix = app.config.cache.key_prefix;
    [one, two] = await Promise.all([app.start(), app.start()]);
  });

  const authenticate = (instance: TestInstance, token: string) => call(instance.url, 'GET', '/authenticate', { token });
  const refresh = (instance: TestInstance, token: string) => call(instance.url, 'POST', '/refresh', { body: { refresh_token: token } });
  /**
   * A revoked token is refused by `instance`. Exact mode: at once. Cached mode: once the
   * revocation message has arrived. On a Cluster it is published on the node owning the user's
   * slot and reaches a subscriber on another node over the cluster bus, a moment after the
   * revoking request has returned, so a cached answer can outlive the revocation by that moment
   * (see the pub/sub test below, which measures it).
   */
  const expectRefused = async (instance: TestInstance, token: string) => {
    if (revocation === 'exact') expect((await authenticate(instance, token)).status).toBe(401);
    else await expect.poll(async () => (await authenticate(instance, token)).status, { timeout: 1_000, interval: 10 }).toBe(401);
  };

  it('register → authenticate → refresh → logout, across both instances', async () => {
    const user = await registerUser(one.url);
    await expectAccepted(two.url, user.accessToken);
    const refreshed = await refresh(two, user.refreshToken);
    expect(refreshed.status).toBe(200);
    const access = refreshed.body?.access_token as string;
    const refreshToken = refreshed.body?.refresh_token as string;
    await expectAccepted(one.url, access);
    // The old refresh token is a grace replay right after rotation, not an error.
    expect((await refresh(one, user.refreshToken)).status).toBe(200);
    const again = await refresh(one, refreshToken);
    expect(again.status).toBe(200);

    expect((await call(one.url, 'POST', '/logout', { token: again.body?.access_token as string })).status).toBe(204);
    for (const token of [user.accessToken, access, again.body?.access_token as string]) {
      await expectRefused(two, token);
      await expectRefused(one, token);
    }
    expect((await refresh(two, again.body?.refresh_token as string)).status).toBe(401);
  });

  it('logout-all and the session list work across instances', async () => {
    const user = await registerUser(one.url);
    const second = await call(two.url, 'POST', '/login', { body: { email: user.email, password: user.password } });
    expect(second.status).toBe(200);
    const listed = await call(two.url, 'GET', '/sessions', { token: user.accessToken });
    expect((listed.body?.sessions as unknown[]).length).toBe(2);
    await expectAccepted(two.url, user.accessToken);
    expect((await call(one.url, 'POST', '/logout-all', { token: second.body?.access_token as string })).status).toBe(204);
    for (const token of [user.accessToken, second.body?.access_token as string]) await expectRefused(two, token);
  });

  if (revocation === 'cached') {
    it('a revocation on one instance reaches the other’s cache through pub/sub on the cluster', async () => {
      for (const instance of [one, two]) {
        const sessions = instance.deps.sessions as SessionStore & { isLive(): boolean };
        await expect.poll(() => sessions.isLive(), { timeout: 5_000 }).toBe(true);
      }
      const raw = await connectCluster();
      /** Per user: how long after the revoking response, and how many 200s the other instance still gave. */
      const lags: { ms: number; stale: number }[] = [];
      try {
        // Several users, so the publishing node (the owner of each user's slot) varies.
        for (let i = 0; i < 6; i += 1) {
          const user = await registerUser(one.url);
          await expectAccepted(one.url, user.accessToken);
          // Gone from Redis without any announcement: only the cached answer still says 200.
          await raw.del(redisKeys(prefix).session(user.userId, user.sessionId));
          expect((await authenticate(one, user.accessToken)).status).toBe(200);
          // The other instance revokes: its script publishes, and instance one must forget it
          // (without pub/sub, the cached answer would last revocation_cache_max_age, 10 s).
          expect((await call(two.url, 'POST', '/logout', { token: user.accessToken })).status).toBe(204);
          const revokedAt = performance.now();
          let stale = 0;
          while ((await authenticate(one, user.accessToken)).status === 200) {
            stale += 1;
            // Well within the 10 s an answer may be cached: only the message explains it.
            expect(performance.now() - revokedAt).toBeLessThan(5_000);
          }
          lags.push({ ms: Math.round(performance.now() - revokedAt), stale });
        }
      } finally {
        raw.disconnect();
      }
      console.log(`cached revocation on Redis Cluster, revoked → refused by the other instance: ${JSON.stringify(lags)}`);
    });
  }
});
