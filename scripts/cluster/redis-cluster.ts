import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CleanupStack, settleAll, tempDir } from './cleanup.js';
import { freePort, retryWhilePortTaken } from './free-port.js';
import { logTail } from './process.js';
import { type LocalRedis, redisCli, redisCliBinary, startRedis } from './redis.js';

/** A throwaway Redis Cluster on loopback: masters, and as many replicas of each as asked for. */
export interface LocalRedisCluster {
  /** `127.0.0.1:port` of every node: the seed nodes for `cache.cluster.nodes`. */
  nodes: string[];
  servers: LocalRedis[];
}

/** `redis-cli <args>` output of `key:value` lines (CLUSTER INFO, INFO) as fields. */
async function fields(port: number, args: string[]): Promise<Record<string, string>> {
  const text = await redisCli(port, args).catch(() => '');
  return Object.fromEntries(
    text
      .split(/\r?\n/)
      .map((line) => line.trim().split(':'))
      .filter((pair): pair is [string, string] => pair.length === 2),
  );
}

const clusterInfo = (port: number) => fields(port, ['CLUSTER', 'INFO']);

/** A master, or a replica whose link to its master is up. */
async function replicaInSync(port: number): Promise<boolean> {
  const replication = await fields(port, ['INFO', 'replication']);
  return replication['role'] === 'master' || replication['master_link_status'] === 'up';
}

/** One cluster-enabled `redis-server` in `dir`, on a free port and a free bus port (started again on new ones if they were taken meanwhile). */
function startNode(dir: string, name: string): Promise<LocalRedis> {
  return retryWhilePortTaken(async () => {
    // An explicit bus port, picked as the port is: the default, port + 10000, would fall in the
    // ephemeral range (or past 65535 for a port the kernel picked).
    const [port, busPort] = [await freePort(), await freePort()];
    return startRedis(dir, { name, port, args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPort), '--cluster-node-timeout', '5000'] });
  });
}

/**
 * Starts `masters` (≥ 3) × (1 + `replicas`) cluster-enabled `redis-server`s, each in its own dir
 * under one temp dir (no persistence, `noeviction`), joins them with `redis-cli --cluster create
 * --cluster-replicas <replicas>` and waits until every node reports `cluster_state:ok` and knows
 * every other, and every replica is in sync with its master. `cleanup` stops them (by their own
 * pids) and removes the dirs; it is complete even when this rejects.
 */
export async function startRedisCluster(cleanup: CleanupStack, { masters = 3, replicas = 0, timeoutMs = 30_000 } = {}): Promise<LocalRedisCluster> {
  redisCliBinary();
  const root = tempDir(cleanup, 'jwt-redis-cluster-');
  const total = masters * (1 + replicas);
  const servers = await settleAll(
    Array.from({ length: total }, async (_, index) => {
      const dir = join(root, `node${index}`);
      mkdirSync(dir);
      const server = await startNode(dir, `redis-cluster-node${index}`);
      cleanup.add(() => server.stop());
      return server;
    }),
  );
  const nodes = servers.map((server) => `127.0.0.1:${server.port}`);
  const first = servers[0];
  if (!first) throw new Error('a Redis Cluster needs at least one node');
  try {
    await redisCli(first.port, ['--cluster', 'create', ...nodes, '--cluster-replicas', String(replicas), '--cluster-yes'], timeoutMs);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`redis-cli --cluster create failed: ${reason}\n${logTail(first.process.logFile)}`);
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const infos = await Promise.all(servers.map((server) => clusterInfo(server.port)));
    const synced = await Promise.all(servers.map(async (server) => replicaInSync(server.port)));
    const ready = infos.every((info) => info['cluster_state'] === 'ok' && Number(info['cluster_known_nodes']) === total) && synced.every(Boolean);
    if (ready) return { nodes, servers };
    if (Date.now() > deadline) {
      const states = infos.map((info, index) => `${nodes[index]} ${info['cluster_state'] ?? '?'} knows ${info['cluster_known_nodes'] ?? '?'}`);
      throw new Error(`Redis Cluster not ok within ${timeoutMs / 1000}s: ${states.join(', ')}`);
    }
    await sleep(100);
  }
}
