import { Cluster } from 'ioredis';
import { closeRedis } from './redis-connection.js';
import { defineScript, redisGuarded as guarded, type RedisArg, type RedisClient } from './redis-client.js';
import { microBatch } from '../util/micro-batch.js';
import { UnavailableError } from '../errors.js';
import * as lua from './lua/scripts.js';
import { createAuthenticateCall } from './authenticate-command.js';
import { redisKeys } from './redis-keys.js';
import { createRevoke, masterConnection, type ReplicatedRevocations } from './replicated-revocations.js';
import {
  activityThrottleMs,
  MAX_DENIED_PER_SESSION,
  type AuthenticateInput,
  type SessionState,
  type RotateResult,
  type SessionInfo,
  type SessionPolicy,
  type SessionStore,
} from './session-store.js';

const FAILURES: Readonly<Record<number, SessionState>> = { [-1]: 'no_session', [-2]: 'stale_version', [-3]: 'denied' };

type AuthenticateReply = { outcome: SessionState; validForMs: number };

/**
 * The script's answer for one check: a failure code (negative), or the ms left until the session
 * ends. Anything else (none can come) is refused: only a whole number ever means valid.
 */
function toAuthenticateReply(value: unknown): AuthenticateReply {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return { outcome: 'ok', validForMs: value };
  return { outcome: (typeof value === 'number' ? FAILURES[value] : undefined) ?? 'no_session', validForMs: 0 };
}

/**
 * Most `/authenticate` checks in one script call: bounds the time Redis spends in one script. A
 * full batch is sent at once, in the middle of the event loop's round: Redis works on it while
 * the loop reads the round's other requests, and its reply waits at the next poll, where one
 * batch per round left the loop idle for the whole round trip (c8e86bb: +23% req/s against 64).
 */
const MAX_AUTHENTICATE_BATCH = 16;

/** Registers each script once per connection (EVALSHA, falling back to EVAL on NOSCRIPT there). */
function defineScripts(redis: RedisClient) {
  const define = defineScript.bind(null, redis);
  return {
    createSession: define('jwtCreateSession', lua.createSession),
    // Takes 3 keys per rotation, so the key count is passed per call.
    rotate: define('jwtRotate', lua.rotate),
    // endSession takes 2 or 3 keys, so the key count is passed per call.
    endSession: define('jwtEndSession', lua.endSession),
    deny: define('jwtDeny', lua.deny, 3),
    endAll: define('jwtEndAll', lua.endAll, 2),
    endOthers: define('jwtEndOthers', lua.endOthers, 3),
    endOthersKeepingTokens: define('jwtEndOthersKeepingTokens', lua.endOthersKeepingTokens, 3),
    listSessions: define('jwtListSessions', lua.listSessions, 1),
  };
}

type Scripts = ReturnType<typeof defineScripts>;

const rolesFromJson = (json: string | undefined): string[] => {
  const roles: unknown = json ? JSON.parse(json) : [];
  return Array.isArray(roles) ? roles.filter((role): role is string => typeof role === 'string') : [];
};

const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);

/** Most rotations in one script call (each writes; a batch of refreshes is smaller than one of checks). */
const MAX_ROTATE_BATCH = 32;

type RotateInput = Parameters<SessionStore['rotate']>[0];
type RotateReply = [string, number?, number?, string?, number?];

/** One rotation's answer; `null` when the script failed for that rotation alone. */
function toRotateResult([outcome, gen, tv, roles, expiresAt]: RotateReply): RotateResult | null {
  if (outcome === 'rotated' || outcome === 'replayed') {
    return { outcome, generation: Number(gen), tokenVersion: Number(tv), roles: rolesFromJson(roles), expiresAt: Number(expiresAt) };
  }
  if (outcome === 'error') return null;
  return { outcome: outcome === 'reused' || outcome === 'superseded' ? outcome : 'invalid' };
}

/**
 * The Redis session store; `redis` must be connected, with the offline queue disabled (fail fast).
 * With `replicated`, a revocation answers only once replicas hold it (else 503): a failover that
 * promotes a replica can then not bring a revoked session back.
 */
export function createRedisSessionStore({
  redis,
  prefix,
  policy,
  replicated,
}: {
  redis: RedisClient;
  prefix: string;
  policy: SessionPolicy;
  replicated?: ReplicatedRevocations;
}) {
  const keys = redisKeys(prefix);
  const scripts = defineScripts(redis);
  const { revoke, confirmEnded } = createRevoke({ scripts, defineScripts, keys, replicated });
  const throttle = activityThrottleMs(policy);
  const channel = keys.revocationChannel;
  const sendChecks = createAuthenticateCall({ redis, keys, throttleMs: throttle, idleMs: policy.autoLogoutMs });
  /** The trailing ARGV of every revoking script: where to announce it, and for which user. */
  const revoked = (userId: string): [string, string] => [channel, userId];

  /** What a logout presented, checked against the session: an access token's version (and jti), or a refresh token's generation. */
  type Presented = { tokenVersion: number } | { generation: number };

  /** The endSession script on `on`, not yet acknowledged (see `createRevoke`). */
  const endScript = (on: Scripts, userId: string, sessionId: string, deny?: { jti: string; ttlMs: number }, presented?: Presented) => {
    const sessionKeys = [keys.session(userId, sessionId), keys.sessionSet(userId)];
    const denying = deny !== undefined && deny.ttlMs > 0;
    if (denying) sessionKeys.push(keys.denied(userId, deny.jti));
    const ttl = denying ? Math.ceil(deny.ttlMs) : 0;
    const checked = presented && 'tokenVersion' in presented ? [presented.tokenVersion, deny?.jti ?? '', ''] : ['', '', presented?.generation ?? ''];
    return on.endSession(sessionKeys.length, ...sessionKeys, sessionId, ttl, ...checked, ...revoked(userId));
  };

  /** Ends one session; with what a logout `presented`, only if the session still accepts it. */
  const endOne = async (userId: string, sessionId: string, deny?: { jti: string; ttlMs: number }, presented?: Presented) => {
    const reply = Number(await revoke(userId, (on) => endScript(on, userId, sessionId, deny, presented)));
    return reply === -1 ? 'refused' : reply === 1 ? 'ended' : 'gone';
  };

  /**
   * `authenticate`, also telling for how long (ms from now) a valid session lasts without further
   * activity. Checks that arrive together share script calls of up to MAX_AUTHENTICATE_BATCH (on
   * a Cluster, per user: one slot).
   */
  const authenticateUntil = microBatch(
    async (checks: AuthenticateInput[]): Promise<AuthenticateReply[]> => {
      const replies = (await guarded(sendChecks(checks))) as unknown[];
      return replies.map(toAuthenticateReply);
    },
    { maxBatch: MAX_AUTHENTICATE_BATCH, groupOf: redis instanceof Cluster ? (check) => check.userId : undefined },
  );

  /** Rotations that arrive together share one script call (on a Cluster, per user: one slot). */
  const rotateBatch = microBatch(
    async (rotations: RotateInput[]): Promise<(RotateResult | null)[]> => {
      const n = rotations.length;
      const args: RedisArg[] = new Array<RedisArg>(1 + 7 * n + 3);
      args[0] = 3 * n;
      args[1 + 3 * n] = policy.refreshReuseGraceMs;
      args[2 + 3 * n] = policy.autoLogoutMs;
      args[3 + 3 * n] = channel;
      for (let i = 0; i < n; i++) {
        const { userId, sessionId, generation, salt } = rotations[i] as RotateInput;
        args[1 + 3 * i] = keys.session(userId, sessionId);
        args[2 + 3 * i] = keys.tokenVersion(userId);
        args[3 + 3 * i] = keys.sessionSet(userId);
        args[4 + 3 * n + 4 * i] = generation;
        args[5 + 3 * n + 4 * i] = salt;
        args[6 + 3 * n + 4 * i] = sessionId;
        args[7 + 3 * n + 4 * i] = userId;
      }
      const replies = (await guarded(scripts.rotate(...args))) as RotateReply[];
      return replies.map(toRotateResult);
    },
    { maxBatch: MAX_ROTATE_BATCH, groupOf: redis instanceof Cluster ? (rotation) => rotation.userId : undefined },
  );

  const store = {
    async create({ userId, sessionId, salt, roles, meta }) {
      const sessionKeys = [keys.session(userId, sessionId), keys.sessionSet(userId), keys.tokenVersion(userId)];
      // Replicated revocations keep unacknowledged evictions until a login sees them acknowledged.
      if (replicated) sessionKeys.push(keys.pendingEvictions(userId));
      const reply = await guarded(
        scripts.createSession(
          sessionKeys.length,
          ...sessionKeys,
          sessionId,
          salt,
          policy.refreshLifetimeMs,
          policy.autoLogoutMs,
          policy.maxSessions,
          keys.sessionPrefix(userId),
          meta.device ?? '',
          meta.userAgent ?? '',
          meta.ip ?? '',
          JSON.stringify(roles),
          ...revoked(userId),
        ),
      );
      const [tv, expiresAt, evicted] = reply as [number, number, string[]];
      if (replicated && evicted.length > 0) {
        // An eviction is a revocation: repeated on the revocations' connection (as a reuse's end
        // is, in auth/refresh.ts) and answered once replicas hold it. Unacknowledged, the login
        // fails and its own session goes too (nobody holds its tokens); the eviction stays
        // pending, so a retry waits for it again.
        await revoke(userId, (on) => Promise.all(evicted.map((id) => endScript(on, userId, id)))).catch(async (error: unknown) => {
          await guarded(endScript(scripts, userId, sessionId)).catch(() => {});
          throw error;
        });
        // Unrecorded, they stay pending: the next login has them acknowledged once more, harmlessly.
        await guarded(replicated.redis.srem(keys.pendingEvictions(userId), ...evicted)).catch(() => {});
      }
      // In replicated mode `evicted` also holds earlier evictions still pending: a superset.
      return { generation: 0, tokenVersion: Number(tv), roles, expiresAt: Number(expiresAt), evictedOthers: evicted.length > 0 };
    },

    async authenticate(input) {
      return (await authenticateUntil(input)).outcome;
    },

    async getSalt(userId, sessionId) {
      return guarded(redis.hget(keys.session(userId, sessionId), 'salt'));
    },

    async rotate(input) {
      const result = await rotateBatch(input);
      if (!result) throw new UnavailableError('session store', new Error(`rotation failed in Redis for session ${input.sessionId}`));
      return result;
    },

    endSession: async (userId, sessionId) => (await endOne(userId, sessionId)) === 'ended',
    logout: (userId, sessionId, token) => endOne(userId, sessionId, token, token),
    logoutWithRefreshToken: (userId, sessionId, generation) => endOne(userId, sessionId, undefined, { generation }),

    confirmEnded: (userId, sessionId) => confirmEnded(userId, keys.session(userId, sessionId)),

    async deny(userId, sessionId, jti, ttlMs) {
      if (ttlMs <= 0) return 'repeated';
      const sessionKeys = [keys.denied(userId, jti), keys.session(userId, sessionId), keys.sessionSet(userId)];
      const reply = Number(await revoke(userId, (on) => on.deny(...sessionKeys, Math.ceil(ttlMs), jti, sessionId, MAX_DENIED_PER_SESSION, ...revoked(userId))));
      return reply === 2 ? 'session_ended' : reply === 1 ? 'denied' : 'repeated';
    },

    async endAll(userId) {
      const tv = await revoke(userId, (on) => on.endAll(keys.tokenVersion(userId), keys.sessionSet(userId), keys.sessionPrefix(userId), ...revoked(userId)));
      return Number(tv);
    },

    async endOthersKeepingTokens(userId, keepSessionId) {
      const kept = await revoke(userId, (on) =>
        on.endOthersKeepingTokens(
          keys.sessionSet(userId),
          keys.session(userId, keepSessionId),
          keys.tokenVersion(userId),
          keys.sessionPrefix(userId),
          keepSessionId,
          ...revoked(userId),
        ),
      );
      return Number(kept) === 1;
    },

    async endOthers(userId, keepSessionId, roles) {
      const reply = (await revoke(userId, (on) =>
        on.endOthers(
          keys.tokenVersion(userId),
          keys.sessionSet(userId),
          keys.session(userId, keepSessionId),
          keys.sessionPrefix(userId),
          keepSessionId,
          policy.autoLogoutMs,
          JSON.stringify(roles),
          ...revoked(userId),
        ),
      )) as [number, number?, string?, string?, number?];
      const [tv, gen, salt, keptRoles, expiresAt] = reply;
      if (gen === undefined || salt === undefined) return null;
      return { tokenVersion: Number(tv), generation: Number(gen), salt, roles: rolesFromJson(keptRoles), expiresAt: Number(expiresAt) };
    },

    async list(userId) {
      const rows = (await guarded(scripts.listSessions(keys.sessionSet(userId), keys.sessionPrefix(userId), policy.autoLogoutMs))) as string[][];
      return rows.map(([id, created, seen, abs, device, ua, ip, expires]): SessionInfo => ({
        id: id as string,
        createdAt: Number(created),
        lastSeenAt: Number(seen),
        absoluteExpiresAt: Number(abs),
        expiresAt: Number(expires),
        device: text(device),
        userAgent: text(ua),
        ip: text(ip),
      }));
    },

    /** Both connections: without the revocations' one, every revocation would answer 503. */
    async ping() {
      await guarded(Promise.all([redis.ping(), replicated?.redis.ping()]));
    },

    close: async () => {
      await Promise.all([closeRedis(redis), replicated && closeRedis(replicated.redis)]);
    },
  } satisfies SessionStore;
  /**
   * Publishes `message` on the revocation channel: the cached mode's end-to-end heartbeat. On a
   * Cluster a revocation is published by the master owning its user's slot, so a beat must be able
   * to take each of those masters' way to the subscription: `turn` picks one of the slot owners
   * (ioredis would send a PUBLISH, which names no key, to a random master). On the command
   * connection even with replicated revocations: on theirs, a beat would wait behind each WAIT,
   * and a lagging replica would keep turning the cache off.
   */
  const announce = async (message: string, turn = 0) => {
    let via: RedisClient = redis;
    if (redis instanceof Cluster) {
      const owners = [...new Set(redis.slots.map((slotNodes) => slotNodes?.[0]))].filter((owner) => owner !== undefined).sort();
      if (owners.length === 0) throw new UnavailableError('session store', new Error('the Cluster slot table is not loaded yet'));
      via = masterConnection(redis, owners[turn % owners.length], `heartbeat turn ${turn % owners.length}`);
    }
    await guarded(via.publish(channel, message));
  };
  /**
   * Waits, with one read of `userId`'s slot sent after a revoking script has replied, until Redis
   * has written that script's messages to every subscription (`cache.revocation: cached`). Redis
   * writes out the replies and published messages of the commands it has run before it reads new
   * ones, so this read's reply comes once each subscription's socket holds them; except for a
   * backed-up socket (Redis writes the rest later), on Redis 8 / Valkey 8 with io-threads > 1
   * (threads may each write their own clients in their own time), and on a Cluster for
   * subscriptions on nodes other than the slot's master (the message takes the cluster bus).
   * Without it, a client could see the revoking response and ask another instance before that
   * instance's message had left Redis (a Redis descheduled between the two writes).
   */
  const awaitPublished = async (userId: string) => {
    // Where the revoking script ran: with replicated revocations, their own connection.
    await guarded((replicated?.redis ?? redis).exists(keys.tokenVersion(userId)));
  };
  return Object.assign(store, { authenticateUntil, announce, awaitPublished });
}

export type RedisSessionStore = ReturnType<typeof createRedisSessionStore>;
