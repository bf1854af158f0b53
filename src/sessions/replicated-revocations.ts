import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import { UnavailableError } from '../errors.js';
import { nextRun } from '../util/next-run.js';
import * as lua from './lua/scripts.js';
import { redisGuarded as guarded, type RedisClient } from './redis-client.js';
import type { RedisKeys } from './redis-keys.js';

/**
 * Revocations acknowledged by replicas (`cache.revocation_replicas`): they run on a connection of
 * their own, followed by `WAIT replicas waitMs` (shared by those that arrive together; see
 * `createRevoke`), which blocks that connection (never the hot path's) until that many replicas
 * hold every write made on it so far. On a Cluster, `redis` is a
 * client of its own, and a user's revocations and their WAIT go down its connection to the master
 * serving the user's slot (WAIT answers only for writes made on the connection it is sent on).
 */
export interface ReplicatedRevocations {
  redis: RedisClient;
  replicas: number;
  waitMs: number;
}

/** The connection to the master `nodeKey` (`host:port`) of `cluster`, or a 503 if the client knows none. */
export function masterConnection(cluster: Cluster, nodeKey: string | undefined, purpose: string): RedisClient {
  const node = nodeKey === undefined ? undefined : cluster.nodes('master').find(({ options }) => `${options.host}:${options.port}` === nodeKey);
  if (!node) throw new UnavailableError('session store', new Error(`no master is known for ${purpose}`));
  return node;
}

/** Life of the mark written before each WAIT (nothing reads it; it only has to reach the replicas). */
const ACKNOWLEDGEMENT_MARK_TTL_MS = 10_000;

/**
 * `revoke(userId, work)`: runs `userId`'s revoking script(s) (`work`, given the scripts defined on
 * the connection they run on) and answers with their reply; with `replicated`, only once enough
 * replicas hold it (else 503). `confirmEnded(userId, sessionKey)`: once they hold the user's
 * earlier revocations, and the session is gone there too.
 */
export function createRevoke<S>({
  scripts,
  defineScripts,
  keys,
  replicated,
}: {
  scripts: S;
  defineScripts: (connection: RedisClient) => S;
  keys: RedisKeys;
  replicated: ReplicatedRevocations | undefined;
}) {
  /** Scripts defined on each connection replicated revocations run on (a Cluster's node connections come and go). */
  const scriptsByConnection = new WeakMap<RedisClient, S>();
  const scriptsOn = (connection: RedisClient): S => {
    let defined = scriptsByConnection.get(connection);
    if (!defined) scriptsByConnection.set(connection, (defined = defineScripts(connection)));
    return defined;
  };
  /** Where `userId`'s replicated revocations run: `replicated`'s connection (on a Cluster, to the slot's master). */
  const revocationConnection = ({ redis: connection }: ReplicatedRevocations, userId: string): RedisClient => {
    if (!(connection instanceof Cluster)) return connection;
    return masterConnection(connection, connection.slots[calculateSlot(keys.tokenVersion(userId))]?.[0], `the slot of user ${userId}`);
  };
  /**
   * Once enough replicas hold every write made so far on the master of `userId`'s slot (see
   * ReplicatedRevocations). WAIT answers for its connection's last write that reached the
   * replication stream, and a revocation may write nothing: a retried logout whose session is
   * already gone (ended by another instance, whose WAIT timed out), the repeated end of a family
   * already deleted, a PUBLISH (not replicated on a Cluster). So a write of its own goes first.
   */
  const acknowledged = async ({ replicas, waitMs }: ReplicatedRevocations, connection: RedisClient, userId: string, revoked: boolean): Promise<void> => {
    const mark = keys.acknowledgementMark(userId);
    // Both sent at once, in order on the one connection: no round trip more than WAIT's own. After
    // a revoking script the mark is a script too, so that it is written when Redis is full as the
    // revocation was, sent whole (EVAL): an EVALSHA answered NOSCRIPT would be sent again after
    // the WAIT. A confirmation alone (`confirmEnded`, which anyone can ask for, naming whichever user
    // in a well-formed refresh token) writes a plain SET, refused when Redis is full.
    const [, waited] = await Promise.all([
      guarded(revoked ? connection.eval(lua.acknowledgementMark, 1, mark, ACKNOWLEDGEMENT_MARK_TTL_MS) : connection.set(mark, '1', 'PX', ACKNOWLEDGEMENT_MARK_TTL_MS)),
      guarded(connection.wait(replicas, waitMs)),
    ]);
    const holding = Number(waited);
    if (holding < replicas) {
      throw new UnavailableError('session store', new Error(`a revocation reached ${holding} of ${replicas} replicas within ${waitMs} ms`));
    }
  };
  /**
   * Confirmations (`confirmEnded`) asked for together share one mark and WAIT per connection: it
   * answers for every write before its mark, whoever's. Anyone can ask for one (a well-formed
   * refresh token of no session at `/logout`, no login needed); one WAIT each would queue on the
   * connection real revocations use, each blocking it in turn, and write a mark each.
   */
  const confirmation = nextRun<RedisClient>();
  /**
   * Revocations acknowledged together share one mark and WAIT per connection too: a replay that
   * changes nothing (a logout or `/revoke` repeated with a token of one's own, no limit on either)
   * must still wait for the replicas (its first run may not have reached them), and one WAIT each
   * would queue the connection behind it. At most one runs and one waits.
   */
  const revocationAcknowledgement = nextRun<RedisClient>();
  /** Runs `step` on the connection `userId`'s replicated revocations take. */
  const onRevocationConnection = async <T>(settings: ReplicatedRevocations, userId: string, step: (connection: RedisClient) => Promise<T>): Promise<T> => {
    try {
      return await step(revocationConnection(settings, userId));
    } catch (error) {
      // After a failover the slot's master has moved, and nothing this client routes itself would
      // tell it (a MOVED reply): it learns the new owners before the client's retry.
      if (settings.redis instanceof Cluster) settings.redis.refreshSlotsCache();
      throw error;
    }
  };
  return {
    revoke: async <T>(userId: string, work: (on: S) => Promise<T>): Promise<T> => {
      if (!replicated) return guarded(work(scripts));
      return onRevocationConnection(replicated, userId, async (connection) => {
        const reply = await guarded(work(scriptsOn(connection)));
        await revocationAcknowledgement(connection, () => acknowledged(replicated, connection, userId, true));
        return reply;
      });
    },
    /**
     * A session found gone on the main connection must be gone where revocations are written: in
     * a failover the main connection may still read the old master, which never saw a session
     * created on the new one. Acknowledging its logout would leave it alive: 503 instead (the
     * client's retry then finds it, once this instance follows the new master).
     */
    confirmEnded: async (userId: string, sessionKey: string): Promise<void> => {
      if (!replicated) return;
      await onRevocationConnection(replicated, userId, async (connection) => {
        await confirmation(connection, () => acknowledged(replicated, connection, userId, false));
        if (Number(await guarded(connection.exists(sessionKey))) > 0) {
          throw new UnavailableError('session store', new Error(`session ${sessionKey} is gone on the main connection's master only`));
        }
      });
    },
  };
}
