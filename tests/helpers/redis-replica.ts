import type { ExpectStatic } from 'vitest';
import { type CleanupStack, tempDir } from '../../scripts/cluster/cleanup.js';
import { redisCli, startRedis } from '../../scripts/cluster/redis.js';

/**
 * Starts a throwaway replica of the Redis on `masterPort` (stopped by `cleanup`) and waits until
 * that master counts `connected` replicas, this one included.
 */
export async function startReplica(
  expect: ExpectStatic,
  cleanup: CleanupStack,
  masterPort: number,
  { connected = 1, args = [] }: { connected?: number; args?: readonly string[] } = {},
) {
  const replica = await startRedis(tempDir(cleanup, 'jwt-replica-'), { args: ['--replicaof', '127.0.0.1', String(masterPort), ...args] });
  cleanup.add(() => replica.stop());
  await expect.poll(() => redisCli(masterPort, ['INFO', 'replication']), { timeout: 10_000 }).toMatch(new RegExp(`^connected_slaves:${connected}\\r?$`, 'm'));
  return replica;
}
