import { isIP } from 'node:net';
import { Cluster, Redis, ReplyError } from 'ioredis';
import type { Logger } from 'pino';
import { ConfigError } from '../config/loader.js';
import { type Config, revocationReplicas } from '../config/schema.js';
import type { RedisClient } from './redis-client.js';

/**
 * What the service refuses, or warns about, in the Redis it connects to at start-up (every node of
 * a Cluster; the master and the replicas it lists otherwise): a server that cannot run flagged
 * scripts, an eviction policy, a persistence or replicas that could make revoked tokens valid
 * again. A replica is checked as its master is: a failover makes it the master. @throws {ConfigError}
 */
export async function checkRedisServer(redis: RedisClient, cache: Config['cache'], logger: Logger): Promise<void> {
  if (redis instanceof Cluster) return checkNodes(redis.nodes('all'), cache, logger);
  const replicas = await replicasOf(redis);
  try {
    if (replicas.unreached.length > 0) {
      logger.warn(`cannot check redis replica ${replicas.unreached.join(', ')}: a failover would make it the master; make sure it runs as its master must (noeviction, persistence, Redis 7)`);
    }
    await checkNodes([redis, ...replicas.reached], cache, logger);
  } finally {
    for (const replica of replicas.reached) replica.disconnect();
  }
}

/** Every check on `nodes` at once. @throws {ConfigError} */
async function checkNodes(nodes: Redis[], cache: Config['cache'], logger: Logger): Promise<void> {
  await Promise.all([checkScriptFlags(nodes, logger), checkEvictionPolicy(nodes, logger), checkPersistence(nodes, cache, logger), checkReplicas(nodes, cache, logger)]);
}

/** Longest wait for a replica's connection: one that cannot be reached is warned about. */
const REPLICA_CONNECT_MS = 2_000;

const replicationId = (info: string) => /^master_replid:(\w+)/m.exec(info)?.[1];

/**
 * Whether a server (`own`: its `INFO replication`) is a replica of the master whose `INFO
 * replication` is `master`: it shares the master's replication id, or is still syncing (its
 * link down: it takes the master's id once its first copy has arrived).
 */
const replicating = (own: string, master: string) =>
  /^role:slave\r?$/m.test(own) && (replicationId(own) === replicationId(master) || /^master_link_status:down\r?$/m.test(own));

/** A replica reached and replicating this master (a client of its own), or why not. */
type ReplicaReach = { replica: Redis } | { unreached: string };

/**
 * Reaches the replica at `host:port` with the master's credentials and TLS (its certificate
 * checked against the master's host name: the replica is reached at an address), and keeps it
 * only if it replicates this master (`replicating`: behind NAT an address may lead elsewhere). No
 * ready check: a replica still loading its data answers the checks' reads with LOADING (warned
 * about) instead of holding the start up.
 */
async function reachReplica(master: Redis, masterInfo: string, host: string, port: number): Promise<ReplicaReach> {
  const { username, password, tls, host: masterHost } = master.options;
  const servername = masterHost !== undefined && isIP(masterHost) === 0 ? masterHost : undefined;
  const replica = new Redis({
    host,
    port,
    username,
    password,
    tls: tls ? { ...(typeof tls === 'object' ? tls : {}), ...(servername ? { servername } : {}) } : undefined,
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: REPLICA_CONNECT_MS,
    commandTimeout: REPLICA_CONNECT_MS,
    retryStrategy: () => null,
  });
  // Its connection's failure is the reason it was not reached (connect() rejects with ioredis's
  // bare "Connection is closed."), not an ioredis console line.
  let failure: unknown;
  replica.on('error', (error: unknown) => {
    failure = error;
  });
  try {
    await replica.connect();
    if (!replicating(await replica.info('replication'), masterInfo)) throw new Error('another server answers there, not a replica of this master');
    return { replica };
  } catch (error) {
    replica.disconnect();
    return { unreached: `${isIP(host) === 6 ? `[${host}]` : host}:${port} (${reasonOf(failure ?? error)})` };
  }
}

/**
 * The replicas `master` lists (`INFO replication`: `slave0:ip=…,port=…`), each reached
 * (`reachReplica`) or not, with why. A master that cannot say lists none here: `checkReplicas`
 * warns about it.
 */
async function replicasOf(master: Redis): Promise<{ reached: Redis[]; unreached: string[] }> {
  const info = await master.info('replication').catch(() => '');
  const listed = new Map([...info.matchAll(/^slave\d+:ip=([^,]+),port=(\d+)/gm)].map(([, host = '', port = '']) => [`${host} ${port}`, { host, port: Number(port) }]));
  const reaches = await Promise.all([...listed.values()].map(({ host, port }) => reachReplica(master, info, host, port)));
  return {
    reached: reaches.flatMap((reach) => ('replica' in reach ? [reach.replica] : [])),
    unreached: reaches.flatMap((reach) => ('unreached' in reach ? [reach.unreached] : [])),
  };
}

/** Where `node` is connected (a Sentinel client's options name no server of its own). */
const addressOf = (node: Redis) => (node.stream?.remoteAddress ? `${node.stream.remoteAddress}:${node.stream.remotePort}` : `${node.options.host}:${node.options.port}`);

type NodeRead<T> = { address: string } & ({ ok: true; value: T } | { ok: false; error: unknown });

/** `read` on every node at once. A node that cannot answer does not keep the others from being read. */
async function readEveryNode<T>(nodes: Redis[], read: (node: Redis) => Promise<T>): Promise<NodeRead<T>[]> {
  const reads = await Promise.allSettled(nodes.map(read));
  return reads.map((result, i) => ({
    address: nodes[i] ? addressOf(nodes[i]) : '?',
    ...(result.status === 'fulfilled' ? { ok: true as const, value: result.value } : { ok: false as const, error: result.reason }),
  }));
}

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n')[0];
/** The nodes that could not answer, each with why. */
const unreadable = (reads: NodeRead<unknown>[]) => reads.flatMap((read) => (read.ok ? [] : [`${read.address} (${reasonOf(read.error)})`]));

/**
 * The revoking scripts declare `allow-oom` in a shebang line (Redis 7.0's script flags), so that
 * a revocation holds when Redis is full. A server that refuses a flagged script (Redis 6, or an
 * ACL without EVAL) would fail every revocation: the service refuses to start on it. A node that
 * cannot answer now (unreachable, loading) is only warned about. @throws {ConfigError}
 */
async function checkScriptFlags(nodes: Redis[], logger: Logger) {
  const reads = await readEveryNode(nodes, (node) => node.eval('#!lua flags=no-writes\nreturn 1', 0));
  // Redis 6's compile error and an unknown command are ERR, an ACL's refusal NOPERM; a node still
  // LOADING, BUSY with a script or MASTERDOWN could run it later, and is only warned about.
  const refused = reads.find((read) => !read.ok && read.error instanceof ReplyError && /^(ERR|NOPERM)\b/.test(reasonOf(read.error) ?? ''));
  if (refused && !refused.ok) {
    throw new ConfigError(`redis at ${refused.address} cannot run a script with flags (Redis 7.0 or later is needed, with EVAL allowed): ${reasonOf(refused.error)}`);
  }
  const unread = unreadable(reads);
  if (unread.length > 0) logger.warn(`cannot check that redis at ${unread.join(', ')} runs scripts with flags: it must be Redis 7.0 or later`);
}

/**
 * DESIGN: Redis should run with `maxmemory-policy noeviction`. A `volatile-*` policy evicts only
 * keys with a TTL (sessions: users are logged out; rate-limit counters), which never revives a
 * revoked token. An `allkeys-*` policy may also evict a user's token version (`tv`, no TTL): after
 * a logout-all whose session list had been evicted, losing `tv` too would make the sessions it
 * missed valid again. The service refuses to start on such a Redis (any node checked).
 */
async function checkEvictionPolicy(nodes: Redis[], logger: Logger) {
  const reads = await readEveryNode(nodes, async (node) => ((await node.config('GET', 'maxmemory-policy')) as string[])[1] ?? 'noeviction');
  const unread = unreadable(reads);
  if (unread.length > 0) logger.warn(`cannot read redis maxmemory-policy of ${unread.join(', ')}: make sure it is noeviction or volatile-*, never allkeys-*`);
  const nodesByPolicy = new Map<string, string[]>();
  for (const read of reads) if (read.ok) nodesByPolicy.set(read.value, [...(nodesByPolicy.get(read.value) ?? []), read.address]);
  for (const [policy, addresses] of nodesByPolicy) {
    const setting = `redis at ${addresses.join(', ')}: maxmemory-policy is "${policy}"`;
    if (policy.startsWith('allkeys-')) {
      throw new ConfigError(`${setting}: it may evict users' token versions, which would make revoked tokens valid again; set noeviction (or a volatile-* policy)`);
    }
    if (policy !== 'noeviction') logger.warn(`${setting}: set it to noeviction, or under memory pressure evicted sessions will log users out and evicted rate-limit counters reset`);
  }
}

const PERSISTENCE_SETTINGS = ['appendonly', 'appendfsync', 'no-appendfsync-on-rewrite', 'save'] as const;
type PersistenceSettings = Record<(typeof PERSISTENCE_SETTINGS)[number], string>;

/** A node's persistence settings (`CONFIG GET` answers name, value, name, value…); one it does not report fails the read. */
async function readPersistence(node: Redis): Promise<PersistenceSettings> {
  const pairs = (await node.config('GET', ...PERSISTENCE_SETTINGS)) as string[];
  const values = new Map<string, string>();
  for (let i = 0; i + 1 < pairs.length; i += 2) values.set(pairs[i] as string, pairs[i + 1] as string);
  const value = (name: string) => {
    const found = values.get(name);
    if (found === undefined) throw new Error(`CONFIG GET ${name} answered nothing`);
    return found;
  };
  return Object.fromEntries(PERSISTENCE_SETTINGS.map((name) => [name, value(name)])) as PersistenceSettings;
}

/** What could bring a crashed Redis back in an older state, or `undefined`. */
function persistenceRisk({ appendonly, appendfsync, 'no-appendfsync-on-rewrite': noFsyncOnRewrite, save }: PersistenceSettings) {
  if (appendonly !== 'yes') return save.trim() === '' ? undefined : `it saves RDB snapshots (save "${save}") without appendonly`;
  if (appendfsync !== 'always') return `appendfsync is "${appendfsync}"`;
  return noFsyncOnRewrite === 'yes' ? 'no-appendfsync-on-rewrite is "yes"' : undefined;
}

/**
 * Losing Redis data logs users out; going back to an older state would bring back the sessions
 * and token versions revoked since. A Redis that a crash leaves empty (no persistence) or exactly
 * as it was (AOF fsynced on every write: `appendfsync always`, not skipped during a rewrite or
 * snapshot: `no-appendfsync-on-rewrite no`) is safe; RDB snapshots, or AOF fsynced every second,
 * restart a crashed Redis from a moment before its last acknowledged writes. The service refuses
 * to start on one (any node checked) unless `cache.allow_rollback` accepts that risk, with
 * a warning. @throws {ConfigError}
 */
async function checkPersistence(nodes: Redis[], cache: Config['cache'], logger: Logger) {
  const reads = await readEveryNode(nodes, readPersistence);
  const unread = unreadable(reads);
  if (unread.length > 0) logger.warn(`cannot read redis persistence settings of ${unread.join(', ')}: make sure it runs with appendonly yes and appendfsync always, or with no persistence at all`);
  for (const read of reads) {
    if (!read.ok) continue;
    const risk = persistenceRisk(read.value);
    if (!risk) continue;
    const problem = `redis at ${read.address} may restart from an older state after a crash (${risk}), which would make tokens revoked since valid again; run it with appendonly yes and appendfsync always, or with no persistence at all (save "" and appendonly no: a restart logs everyone out)`;
    if (!cache.allow_rollback) throw new ConfigError(`${problem}, or set cache.allow_rollback: true to accept the risk`);
    logger.warn(`${problem} (cache.allow_rollback: true)`);
  }
}

/** A node's role and, for a master, how many replicas it has (`INFO replication`). */
async function readReplication(node: Redis): Promise<{ master: boolean; replicas: number }> {
  const info = await node.info('replication');
  const role = /^role:(\w+)/m.exec(info)?.[1];
  const replicas = Number(/^connected_slaves:(\d+)/m.exec(info)?.[1]);
  if (role === undefined || !Number.isInteger(replicas)) throw new Error('INFO replication answered no role or replica count');
  return { master: role === 'master', replicas: role === 'master' ? replicas : 0 };
}

/**
 * Replication is asynchronous: a failover may promote a replica that missed the master's last
 * writes, and a revocation already answered would be undone (DESIGN: a revoked token never
 * becomes valid again). `cache.revocation_replicas` makes each revocation wait for that many
 * replicas. Left unset (0 with `url` and `cluster`, 1 with `sentinel`), a master with more
 * replicas than that stops the start: set it to the master's replica count for the guarantee, or
 * lower to accept the risk (warned about). A master with fewer replicas than revocations wait for
 * (one down, say) is warned about: every revocation answers 503 until they are back. @throws {ConfigError}
 */
async function checkReplicas(nodes: Redis[], cache: Config['cache'], logger: Logger) {
  const reads = await readEveryNode(nodes, readReplication);
  const unread = unreadable(reads);
  if (unread.length > 0) logger.warn(`cannot read redis replication of ${unread.join(', ')}: if a master has replicas, set cache.revocation_replicas to their number`);
  const acknowledging = revocationReplicas(cache);
  for (const read of reads) {
    if (!read.ok || !read.value.master || read.value.replicas === acknowledging) continue;
    const { replicas } = read.value;
    const has = `redis at ${read.address} has ${replicas} replica${replicas === 1 ? '' : 's'} and revocations wait for ${acknowledging}`;
    if (replicas < acknowledging) {
      logger.warn(`${has}: every revocation answers 503 (unavailable) until enough replicas are connected`);
      continue;
    }
    const problem = `${has}: a failover may promote one that missed the last revocations, which would make revoked tokens valid again`;
    if (cache.revocation_replicas === undefined) {
      throw new ConfigError(`${problem}; set cache.revocation_replicas: ${replicas} (revocations answer once every replica holds them), or fewer (0 for none) to accept the risk`);
    }
    logger.warn(`${problem} (cache.revocation_replicas: ${acknowledging} accepts the risk)`);
  }
}
