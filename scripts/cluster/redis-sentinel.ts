import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CleanupStack, settleAll, tempDir } from './cleanup.js';
import { type LocalRedis, redisCli, redisCliBinary, startRedis } from './redis.js';

/** A throwaway Sentinel group on loopback: one master, one replica, three sentinels. */
export interface LocalRedisSentinel {
  /** The monitored master's name (`cache.sentinel.name`). */
  name: string;
  /** `127.0.0.1:port` of every sentinel (`cache.sentinel.nodes`). */
  nodes: string[];
  /** The servers as started: after a failover the replica is the master and vice versa. */
  master: LocalRedis;
  replica: LocalRedis;
  sentinels: LocalRedis[];
  /** The port of the current master, as the first sentinel answering tells. */
  masterPort(): Promise<number>;
}

/** A flat `key value key value …` reply printed by redis-cli one item a line, as fields. */
function fields(lines: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < lines.length; i += 2) out[lines[i] as string] = lines[i + 1] as string;
  return out;
}

const cliLines = async (port: number, args: readonly string[]) =>
  (await redisCli(port, args).catch(() => '')).split(/\r?\n/).filter((line) => line !== '');

/** Whether a sentinel sees the master up, its one replica linked, and the other two sentinels. */
async function sentinelSeesAll(port: number, name: string, sentinels: number): Promise<boolean> {
  const master = fields(await cliLines(port, ['SENTINEL', 'MASTER', name]));
  if (master['flags'] !== 'master' || master['num-slaves'] !== '1' || master['num-other-sentinels'] !== String(sentinels - 1)) return false;
  const replica = fields(await cliLines(port, ['SENTINEL', 'REPLICAS', name]));
  return replica['flags'] === 'slave' && replica['master-link-status'] === 'ok';
}

async function replicaLinked(port: number): Promise<boolean> {
  return (await redisCli(port, ['INFO', 'replication']).catch(() => '')).includes('master_link_status:up');
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Redis Sentinel group: ${what} not within ${timeoutMs / 1000}s`);
    await sleep(100);
  }
}

/**
 * Starts a master and a replica (`--replicaof`) — no persistence, `noeviction` — and three
 * sentinels (`redis-server sentinel.conf --sentinel`, quorum 2, down after 1 s, failover timeout
 * 5 s), each in its own dir under one temp dir, then waits until the replica is linked and every sentinel sees
 * the master, the replica and the other sentinels. `cleanup` stops them (by their own pids) and
 * removes the dirs; it is complete even when this rejects.
 */
export async function startRedisSentinel(cleanup: CleanupStack, { name = 'mymaster', timeoutMs = 30_000 } = {}): Promise<LocalRedisSentinel> {
  redisCliBinary();
  const root = tempDir(cleanup, 'jwt-sentinel-');
  const subdir = (name: string) => {
    const dir = join(root, name);
    mkdirSync(dir);
    return dir;
  };
  const server = async (label: string, args: string[] = []) => {
    const redis = await startRedis(subdir(label), { name: `redis-${label}`, args });
    cleanup.add(() => redis.stop());
    return redis;
  };
  const master = await server('master');
  const replica = await server('replica', ['--replicaof', '127.0.0.1', String(master.port)]);
  const sentinels = await settleAll(
    [0, 1, 2].map(async (index) => {
      const dir = subdir(`sentinel${index}`);
      const configFile = join(dir, 'sentinel.conf');
      // The sentinel rewrites this file as it learns the group.
      writeFileSync(
        configFile,
        [
          `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 5000`,
          '',
        ].join('\n'),
      );
      const sentinel = await startRedis(dir, { name: `redis-sentinel${index}`, configFile, sentinel: true });
      cleanup.add(() => sentinel.stop());
      return sentinel;
    }),
  );
  await waitFor('replica linked', () => replicaLinked(replica.port), timeoutMs);
  await waitFor('sentinels see master, replica and each other', async () => {
    const seen = await Promise.all(sentinels.map((sentinel) => sentinelSeesAll(sentinel.port, name, sentinels.length)));
    return seen.every(Boolean);
  }, timeoutMs);

  return {
    name,
    nodes: sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`),
    master,
    replica,
    sentinels,
    async masterPort() {
      for (const sentinel of sentinels) {
        const [, port] = await cliLines(sentinel.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name]);
        if (port) return Number(port);
      }
      throw new Error(`no sentinel answers for ${name}`);
    },
  };
}
