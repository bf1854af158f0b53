import diagnostics from 'node:diagnostics_channel';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, test, type TestContext } from 'vitest';
import { CleanupStack, tempDir } from '../../scripts/cluster/cleanup.js';
import { spawnLogged } from '../../scripts/cluster/process.js';
import { redisCli, redisServerBinary, startRedis } from '../../scripts/cluster/redis.js';
import { tcpProbe } from '../../scripts/cluster/tcp-probe.js';
import { ConfigError } from '../../src/config/loader.js';
import { configSchema } from '../../src/config/schema.js';
import { UnavailableError } from '../../src/errors.js';
import { closeRedis, connectClient, connectRedis, createRedis } from '../../src/sessions/redis-connection.js';
import { freePort } from '../../scripts/cluster/free-port.js';
import { testRedisUrl } from '../helpers/services.js';
import { startReplica } from '../helpers/redis-replica.js';
import { relayTo } from '../helpers/tcp-relay.js';

/** A connected client made as the service makes it. */
async function serviceClient({ onTestFinished }: TestContext): Promise<Redis> {
  const { cache } = configSchema.parse({ cache: { url: testRedisUrl() } });
  const redis = createRedis(cache, { logger: pino({ level: 'silent' }) }) as Redis;
  onTestFinished(() => closeRedis(redis, { hard: true }));
  await redis.connect();
  return redis;
}

/**
 * Cuts the client's next connection attempt short, as ioredis's Sentinel failover detector does
 * when `+switch-master` arrives while the client is reconnecting: ioredis then gives up for good
 * (status `end`). ioredis announces `connecting` a tick before its connector checks whether it
 * is still wanted, so a disconnect from that event lands in between.
 */
function cutNextAttemptShort(redis: Redis) {
  const connector = (redis as unknown as { connector: { disconnect(): void } }).connector;
  redis.once('connecting', () => connector.disconnect());
}

describe.concurrent('Redis connection', () => {
  test('a client whose reconnection was cut short (ioredis gave up: end) connects again by itself', async (ctx) => {
    const redis = await serviceClient(ctx);
    const statuses: string[] = [];
    redis.on('end', () => statuses.push('end'));
    cutNextAttemptShort(redis);
    redis.disconnect(true);
    await ctx.expect.poll(() => statuses, { timeout: 3_000 }).toContain('end');
    await ctx.expect.poll(() => redis.status, { timeout: 5_000 }).toBe('ready');
    ctx.expect(await redis.ping()).toBe('PONG');
  });

  test('a client closed on purpose stays closed', async (ctx) => {
    const redis = await serviceClient(ctx);
    await closeRedis(redis);
    await ctx.expect.poll(() => redis.status, { timeout: 3_000 }).toBe('end');
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    ctx.expect(redis.status).toBe('end');
  });
});

/**
 * A Redis of its own started with `args` (the shared one must stay as every other test needs it),
 * stopped when the test ends; its cache config, and a logger whose lines land in `warnings`.
 */
async function ownRedis({ onTestFinished }: TestContext, args: string[]) {
  const cleanup = new CleanupStack();
  onTestFinished(() => cleanup.run());
  const server = await startRedis(tempDir(cleanup, 'jwt-start-up-'), { args });
  cleanup.add(() => server.stop());
  const { cache } = configSchema.parse({ cache: { url: server.url } });
  const warnings: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void warnings.push(line) });
  return { server, cache, warnings, logger };
}

/** A replica of the server on `masterPort` (stopped when the test ends), once that master counts it connected. */
async function ownReplica({ onTestFinished, expect }: TestContext, masterPort: number, args: string[] = []) {
  const cleanup = new CleanupStack();
  onTestFinished(() => cleanup.run());
  return startReplica(expect, cleanup, masterPort, { args });
}

describe('Redis eviction policy at start-up', () => {
  test('allkeys-* refuses to start (a token version could be evicted); volatile-* warns; noeviction says nothing', async (context) => {
    const { expect } = context;
    const { server, cache, warnings, logger } = await ownRedis(context, ['--maxmemory-policy', 'allkeys-lru']);
    const connect = async () => {
      const redis = await connectRedis(cache, { logger });
      await closeRedis(redis);
    };

    await expect(connect()).rejects.toThrow(ConfigError);
    await expect(connect()).rejects.toThrow(/maxmemory-policy is "allkeys-lru".*revoked tokens valid again/);
    // The refused connections were closed, not left open (only redis-cli's own is listed).
    await expect.poll(() => redisCli(server.port, ['CLIENT', 'LIST']), { timeout: 3_000 }).not.toMatch(/cmd=(?!client)/);

    await redisCli(server.port, ['CONFIG', 'SET', 'maxmemory-policy', 'volatile-lru']);
    await connect();
    expect(warnings.join('')).toMatch(/maxmemory-policy is \\"volatile-lru\\"/);

    warnings.length = 0;
    await redisCli(server.port, ['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
    await connect();
    expect(warnings.join('')).not.toMatch(/maxmemory-policy|script/);
  });

  test('a Redis that refuses CONFIG (managed services often do) starts with a warning naming the node', async (context) => {
    const { expect } = context;
    const { server, cache, warnings, logger } = await ownRedis(context, ['--rename-command', 'CONFIG', '']);
    await closeRedis(await connectRedis(cache, { logger }));
    expect(warnings.join('')).toMatch(new RegExp(`cannot read redis maxmemory-policy of 127\\.0\\.0\\.1:${server.port}`));
    expect(warnings.join('')).toMatch(new RegExp(`cannot read redis persistence settings of 127\\.0\\.0\\.1:${server.port}`));
  });

  test('a Redis that cannot run a flagged script (EVAL disabled here; Redis 6 alike) refuses to start, naming the node', async (context) => {
    const { expect } = context;
    const { server, cache, logger } = await ownRedis(context, ['--rename-command', 'EVAL', '']);
    const refused = connectRedis(cache, { logger });
    await expect(refused).rejects.toThrow(ConfigError);
    await expect(refused).rejects.toThrow(
      new RegExp(`^redis at 127\\.0\\.0\\.1:${server.port} cannot run a script with flags \\(Redis 7\\.0 or later is needed, with EVAL allowed\\): ERR unknown command 'eval'`),
    );
  });
});

describe('Redis persistence at start-up', () => {
  test('a Redis that may restart from an older state (RDB snapshots, AOF not fsynced on every write) refuses to start; none or appendfsync always start quietly', async (context) => {
    const { expect } = context;
    const { server, cache, warnings, logger } = await ownRedis(context, ['--save', '3600 1']);
    const connect = async (options: Partial<typeof cache> = {}) => closeRedis(await connectRedis({ ...cache, ...options }, { logger }));
    const address = `redis at 127.0.0.1:${server.port}`;

    await expect(connect()).rejects.toThrow(ConfigError);
    await expect(connect()).rejects.toThrow(`${address} may restart from an older state after a crash (it saves RDB snapshots (save "3600 1") without appendonly)`);
    await redisCli(server.port, ['CONFIG', 'SET', 'appendonly', 'yes']);
    await expect(connect()).rejects.toThrow(/appendfsync is "everysec"\), which would make tokens revoked since valid again.*cache\.allow_rollback: true to accept the risk$/);
    await connect({ allow_rollback: true });
    expect(warnings.join('')).toContain(`${address} may restart from an older state after a crash (appendfsync is \\"everysec\\")`);

    warnings.length = 0;
    await redisCli(server.port, ['CONFIG', 'SET', 'appendfsync', 'always']);
    await redisCli(server.port, ['CONFIG', 'SET', 'no-appendfsync-on-rewrite', 'yes']);
    await expect(connect()).rejects.toThrow('(no-appendfsync-on-rewrite is "yes")');
    await redisCli(server.port, ['CONFIG', 'SET', 'no-appendfsync-on-rewrite', 'no']);
    await connect();
    await redisCli(server.port, ['CONFIG', 'SET', 'appendonly', 'no']);
    await redisCli(server.port, ['CONFIG', 'SET', 'save', '']);
    await connect();
    expect(warnings).toEqual([]);
  });
});

describe('Redis replicas at start-up', () => {
  test('a master with a replica refuses to start while cache.revocation_replicas is unset (a failover could undo a revocation); 0 warns, 1 starts quietly', async (context) => {
    const { expect } = context;
    const { server, cache, warnings, logger } = await ownRedis(context, []);
    const replica = await ownReplica(context, server.port);
    const connect = async (options: Partial<typeof cache> = {}) => closeRedis(await connectRedis({ ...cache, ...options }, { logger }));
    const problem = `redis at 127.0.0.1:${server.port} has 1 replica and revocations wait for 0: a failover may promote one that missed the last revocations, which would make revoked tokens valid again`;

    await expect(connect()).rejects.toThrow(new ConfigError(`${problem}; set cache.revocation_replicas: 1 (revocations answer once every replica holds them), or fewer (0 for none) to accept the risk`));
    expect(warnings).toEqual([]);
    await connect({ revocation_replicas: 0 });
    expect(warnings.join('')).toContain(`${problem} (cache.revocation_replicas: 0 accepts the risk)`);

    warnings.length = 0;
    await connect({ revocation_replicas: 2 });
    expect(warnings.join('')).toContain(`redis at 127.0.0.1:${server.port} has 1 replica and revocations wait for 2: every revocation answers 503 (unavailable) until enough replicas are connected`);
    warnings.length = 0;
    await connect({ revocation_replicas: 1 });
    expect(warnings).toEqual([]);

    // The replica is checked as its master is: a failover makes it the master.
    await redisCli(replica.port, ['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru']);
    await expect(connect({ revocation_replicas: 1 })).rejects.toThrow(new RegExp(`^redis at 127\\.0\\.0\\.1:${replica.port}: maxmemory-policy is "allkeys-lru"`));
    await redisCli(replica.port, ['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
    await redisCli(replica.port, ['CONFIG', 'SET', 'save', '3600 1']);
    await expect(connect({ revocation_replicas: 1 })).rejects.toThrow(`redis at 127.0.0.1:${replica.port} may restart from an older state after a crash`);
    await redisCli(replica.port, ['CONFIG', 'SET', 'save', '']);
    await connect({ revocation_replicas: 1 });
    expect(warnings).toEqual([]);

    await replica.stop();
    await expect.poll(() => redisCli(server.port, ['INFO', 'replication']), { timeout: 10_000 }).toMatch(/^connected_slaves:0\r?$/m);
    await connect();
    expect(warnings).toEqual([]);
  });
});

describe('Redis replication that cannot be read', () => {
  test('a user not allowed INFO (an ACL) starts with a warning: its replicas cannot be known', async (context) => {
    const { expect } = context;
    const { server, cache, warnings, logger } = await ownRedis(context, []);
    await redisCli(server.port, ['ACL', 'SETUSER', 'noinfo', 'on', '>secret-password', '~*', '&*', '+@all', '-info']);
    const url = new URL(cache.url as string);
    [url.username, url.password] = ['noinfo', 'secret-password'];
    await closeRedis(await connectRedis({ ...cache, url: url.toString() }, { logger }));
    expect(warnings.join('')).toContain(`cannot read redis replication of 127.0.0.1:${server.port} (NOPERM`);
  });
});

describe('Redis replicas that cannot be reached', () => {
  test('a replica its master lists at an address this instance cannot reach (NAT, another network) is warned about, not refused', async (context) => {
    const { expect } = context;
    const { server, cache, warnings, logger } = await ownRedis(context, []);
    const unreachable = await freePort();
    await ownReplica(context, server.port, ['--replica-announce-port', String(unreachable)]);
    expect(await redisCli(server.port, ['INFO', 'replication'])).toMatch(new RegExp(`^slave0:ip=127\\.0\\.0\\.1,port=${unreachable},`, 'm'));
    await closeRedis(await connectRedis({ ...cache, revocation_replicas: 1 }, { logger }));
    // One warning, with the connection's own error.
    expect(warnings.join('').match(/cannot check redis replica/g)).toHaveLength(1);
    expect(warnings.join('')).toContain(`cannot check redis replica 127.0.0.1:${unreachable} (connect ECONNREFUSED 127.0.0.1:${unreachable})`);
  });

  test('another server at the address a replica announces is not checked as the replica (its settings neither refuse nor pass the start)', async (context) => {
    const { expect } = context;
    const { server, cache, warnings, logger } = await ownRedis(context, []);
    const other = await ownRedis(context, ['--maxmemory-policy', 'allkeys-lru']);
    await ownReplica(context, server.port, ['--replica-announce-port', String(other.server.port)]);
    await closeRedis(await connectRedis({ ...cache, revocation_replicas: 1 }, { logger }));
    expect(warnings.join('')).toContain(`cannot check redis replica 127.0.0.1:${other.server.port} (another server answers there, not a replica of this master)`);
    expect(warnings.join('')).not.toContain('maxmemory-policy');
  });
});

describe('Redis at start-up', () => {
  const logger = pino({ level: 'silent' });

  test('a database the server does not have stops the start (ioredis would go on in database 0)', async ({ expect }) => {
    const base = new URL(testRedisUrl());
    base.pathname = '/99';
    const { cache } = configSchema.parse({ cache: { url: base.toString() } });
    await expect(connectRedis(cache, { logger })).rejects.toThrow(new ConfigError('cache.url: Redis refused database 99 (ERR DB index is out of range)'));
    base.pathname = '/3';
    const redis = await connectRedis(configSchema.parse({ cache: { url: base.toString() } }).cache, { logger });
    try {
      expect(await redis.call('CLIENT', 'INFO')).toMatch(/ db=3 /);
    } finally {
      await closeRedis(redis);
    }
  });

  test('Sentinel with no sentinel reachable stops the start at the deadline, naming the last error, and stays closed (ioredis retries for ever)', async ({ expect }) => {
    const closed = await freePort();
    const { cache } = configSchema.parse({ cache: { sentinel: { name: 'mymaster', nodes: [`127.0.0.1:${closed}`] } } });
    const redis = createRedis(cache, { logger });
    const started = performance.now();
    const error = await connectClient(redis, 1_000).then(() => undefined, (failure: unknown) => failure);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(String((error as UnavailableError).cause)).toMatch(/sentinels are unreachable|ECONNREFUSED/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
    // Closed for good: no reconnection starts the Sentinel loop again.
    const connecting: string[] = [];
    redis.on('connecting', () => connecting.push('connecting'));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect([redis.status, connecting]).toEqual(['end', []]);
  });

  test('a Redis still loading its data when connected is waited for past the deadline', async ({ expect, onTestFinished }) => {
    const cleanup = new CleanupStack();
    onTestFinished(() => cleanup.run());
    const dir = tempDir(cleanup, 'jwt-loading-');
    const first = await startRedis(dir, { args: ['--enable-debug-command', 'yes'] });
    await redisCli(first.port, ['DEBUG', 'POPULATE', '3000000'], 25_000); // seconds on a loaded machine
    await redisCli(first.port, ['SAVE'], 25_000);
    await first.stop();
    // Started again on that data: it takes connections at once and answers LOADING for a second or two.
    const again = spawnLogged('redis-loading', redisServerBinary(), ['--port', String(first.port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], {
      logFile: join(dir, 'again.log'),
    });
    cleanup.add(() => again.stop('SIGKILL'));
    await expect.poll(() => tcpProbe('127.0.0.1', first.port), { timeout: 10_000, interval: 20 }).toBe(true);
    expect(await redisCli(first.port, ['PING'])).toMatch(/LOADING/);
    const redis = createRedis(configSchema.parse({ cache: { url: first.url } }).cache, { logger });
    cleanup.add(() => closeRedis(redis, { hard: true }));
    await connectClient(redis, 200);
    expect(await redis.ping()).toBe('PONG');
  }, 30_000);
});


describe('Redis maintenance notices', () => {
  test('a MIGRATING notice (Smart Client Handoff, RESP3) does not stretch the command timeout: a stuck server is still a quick failure', async (context) => {
    const { expect, onTestFinished } = context;
    const relay = await relayTo(testRedisUrl(), context);
    const { cache } = configSchema.parse({ cache: { url: relay.url, command_timeout: '200ms' } });
    const redis = await connectRedis(cache, { logger: pino({ level: 'silent' }) });
    onTestFinished(() => closeRedis(redis, { hard: true }));
    // ioredis announces every maintenance notice it reads here, whether it heeds them or not.
    const notices: string[] = [];
    const announced = (notice: unknown) => notices.push((notice as { type: string }).type);
    diagnostics.subscribe('ioredis:maintenance', announced);
    onTestFinished(() => void diagnostics.unsubscribe('ioredis:maintenance', announced));
    // Managed Redis sends this before moving a shard; ioredis's default then waits up to 10 s.
    relay.push('>3\r\n$9\r\nMIGRATING\r\n:1\r\n:15\r\n');
    expect(await redis.ping()).toBe('PONG'); // its reply comes after the notice
    expect(notices).toEqual(['MIGRATING']);
    relay.hold();
    const started = performance.now();
    const failure = await redis.ping().then(() => undefined, (error: unknown) => error);
    expect(String(failure)).toMatch(/timed out/i);
    expect(performance.now() - started).toBeLessThan(2_000);
  }, 15_000);
});
