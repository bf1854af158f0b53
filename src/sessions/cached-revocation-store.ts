import { randomUUID } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import { closeRedis } from './redis-connection.js';
import type { RedisClient } from './redis-client.js';
import type { Logger } from 'pino';
import type { RedisSessionStore } from './redis-session-store.js';
import type { SessionStore } from './session-store.js';
import { doorkeeperFor } from '../util/doorkeeper.js';
import { afterIoRound } from '../util/io-round.js';
import { createRevocationAnswers } from './revocation-answers.js';

/** Revocation messages are user ids (UUIDs); heartbeats start with this. */
const HEARTBEAT = 'hb:';

export interface CachedRevocationOptions {
  store: RedisSessionStore;
  /** A dedicated connection for the subscription (it cannot issue other commands). */
  subscriber: RedisClient;
  channel: string;
  /** Longest time one positive answer is reused without asking Redis. */
  maxAgeMs: number;
  /** Hard cap on cached answers. */
  maxEntries: number;
  logger: Logger;
  heartbeatMs?: number;
  /**
   * The read of a token from which its answer is remembered. The service's is the second (a
   * doorkeeper remembers the first): tokens used once never fill the cache or push out the answers
   * of reused ones. The store contract tests take the first, so that every answer they read before
   * a revocation is a cached one.
   */
  rememberFrom?: 'first-read' | 'second-read';
}

/**
 * The connection a Cluster client keeps its subscription on, or `undefined` for other clients
 * (their own events tell when the subscription goes). When that connection closes, ioredis
 * subscribes again on another node and tells the Cluster client nothing, so messages published
 * in between are lost unseen. ioredis keeps it at `Cluster#subscriber.getInstance()`, which is
 * not public API: if an upgrade moves it, this throws at start-up rather than serve stale answers.
 */
function subscriptionConnectionOf(subscriber: RedisClient): (() => Redis | null) | undefined {
  if (!(subscriber instanceof Cluster)) return undefined;
  const inner = (subscriber as unknown as { subscriber?: { getInstance?: () => Redis | null } }).subscriber;
  const getInstance = inner?.getInstance;
  if (typeof getInstance !== 'function') throw new Error("ioredis Cluster: cannot find the subscription's connection (Cluster#subscriber.getInstance)");
  return () => getInstance.call(inner);
}

/**
 * `cache.revocation: cached` — remembers positive `/authenticate` answers per (user, jti) for at
 * most `maxAgeMs` and never past the session's own end, and forgets a user's answers as soon as
 * any instance revokes something of that user (every revoking script publishes the user id).
 *
 * Safety rules: answers are served only while the subscription is confirmed alive (subscribed
 * and answering a heartbeat); when it is not, the cache is emptied and every request reads
 * Redis again. An answer read from Redis is stored only if no revocation message arrived while
 * it was in flight, so a late reply cannot resurrect a revoked token.
 */
export function createCachedRevocationStore({
  store,
  subscriber,
  channel,
  maxAgeMs,
  maxEntries,
  logger,
  heartbeatMs = 250,
  rememberFrom = 'second-read',
}: CachedRevocationOptions): SessionStore & { isLive(): boolean; answersHeld(): number } {
  const answers = createRevocationAnswers(maxEntries);
  // First reads are remembered here (see `rememberFrom`), as the verified-token cache does.
  const doorkeeper = rememberFrom === 'second-read' ? doorkeeperFor(2 * maxEntries) : undefined;
  let live = false;
  let epoch = 0;

  /** A revocation: the user's answers go, and answers still in flight are not stored (epoch). */
  const forgetUser = (userId: string) => {
    epoch += 1;
    answers.forget(userId);
  };
  const reset = () => {
    epoch += 1;
    answers.clear();
  };
  const stop = (reason: string) => {
    reset();
    if (live) logger.warn({ reason }, 'revocation cache off: reading Redis on every request until the subscription is back');
    live = false;
  };

  // Heartbeats travel the same path as revocations: published on this instance's command
  // connection, received on its subscription. Another instance's beats are ignored. `received`
  // picks the path of the next beat (on a Cluster, the slot-owning master in turn, see
  // `announce`): it moves on only past a beat that came back, so after a lost beat the next one
  // retries the same path, and the cache stays off while that path is broken.
  const beatPrefix = `${HEARTBEAT}${randomUUID()}:`;
  let beats = 0;
  let received = 0;
  let awaitedBeat: string | undefined;
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    if (!message.startsWith(HEARTBEAT)) {
      forgetUser(message);
      return;
    }
    if (message !== awaitedBeat) return;
    awaitedBeat = undefined;
    received += 1;
    if (!live && subscribed) resume();
  });
  let subscribed = false;
  // On a Cluster, the node connection the subscription sits on: answers are served only while
  // it is the one watched, and its closing turns the cache off at once.
  const connectionNow = subscriptionConnectionOf(subscriber);
  let watched: Redis | null = null;
  const watch = () => {
    const connection = connectionNow?.() ?? null;
    if (connection === watched) return;
    watched = connection;
    connection?.once('close', () => {
      if (watched === connection) stop('subscription connection closed');
    });
  };
  const resume = () => {
    watch();
    reset();
    live = true;
    logger.info('revocation cache on');
  };
  const sendBeat = () => {
    const beat = `${beatPrefix}${(beats += 1)}`;
    awaitedBeat = beat;
    store.announce(beat, received).catch(() => {
      if (awaitedBeat !== beat) return;
      awaitedBeat = undefined;
      stop('heartbeat could not be sent');
    });
  };
  // Subscribed is not yet delivering: the cache goes on with the first beat that comes back.
  let subscribing = false;
  const subscribe = () => {
    subscribing = true;
    subscriber.subscribe(channel).then(
      () => {
        subscribing = false;
        subscribed = true;
        beatNow();
      },
      (error: unknown) => {
        subscribing = false;
        stop(`subscribe failed: ${(error as Error).message}`);
      },
    );
  };
  subscriber.on('ready', subscribe);
  for (const event of ['close', 'end', 'reconnecting', 'error'] as const) {
    subscriber.on(event, () => {
      subscribed = false;
      stop(`subscription ${event}`);
    });
  }
  // A half-open subscription, a frozen Redis or a message path that is broken anywhere (on a
  // Cluster, the node the subscription sits on, or one master's way to it) delivers nothing and
  // may report nothing: a beat still unreceived at the next one turns the cache off, so stale
  // answers last < 2 beats (on a Cluster, < masters + 1). A beat received while the cache is off
  // (after a failed read, or a new subscription) turns it back on.
  const tick = () => {
    if (live && connectionNow !== undefined && connectionNow() !== watched) stop('subscription moved to another connection');
    if (awaitedBeat !== undefined) {
      awaitedBeat = undefined;
      stop('heartbeat not received');
      subscriber.disconnect(true);
      return;
    }
    if (subscribed) sendBeat();
    // An 'error' that did not close the connection (no 'ready' follows): subscribe on it again.
    else if (!subscribing && subscriber.status === 'ready') subscribe();
  };
  const heartbeat = setInterval(tick, heartbeatMs);
  heartbeat.unref();
  let closed = false;
  /** A beat now, and the next ones from now: each beat has a whole period to come back. */
  const beatNow = () => {
    if (closed) return;
    sendBeat();
    heartbeat.refresh();
  };

  /**
   * Resolves once Redis has written out the user's revocation messages to every subscription (see
   * `awaitPublished`): a check sent to another instance after the revoking response then finds the
   * message there, and is answered only after it (see `authenticate`). If that read fails, the
   * revocation stands all the same, and an instance that cannot hear it turns its cache off
   * within two beats.
   */
  const published = (userId: string) => store.awaitPublished(userId).catch(() => {});

  /** Forgets the user's answers once a revoking call has settled (the script also announces it), and answers once that is out. */
  const revoking = async <R>(userId: string, call: Promise<R>): Promise<R> => {
    const result = await call.finally(() => forgetUser(userId));
    await published(userId);
    return result;
  };

  return {
    ...store,
    async authenticate(input) {
      // The monotonic clock: a wall clock stepped back (NTP) would keep answers past their end.
      const now = performance.now();
      if (live) {
        const until = answers.until(input.userId, input.jti);
        if (until !== undefined && until > now) {
          // Let every I/O callback already due run first: a revocation message that reached this
          // process before this request did is then applied before we answer.
          await afterIoRound();
          if (live && answers.until(input.userId, input.jti) === until) return 'ok';
        }
      }
      const before = epoch;
      let reply;
      try {
        reply = await store.authenticateUntil(input);
      } catch (error) {
        stop('session store unavailable');
        throw error;
      }
      // Relative to this instance's clock, from before the round trip: never past the session's end
      // however far this clock is from Redis's.
      const { outcome, validForMs } = reply;
      if (outcome === 'ok' && live && epoch === before && (doorkeeper?.seen(input.jti) ?? true)) answers.remember(input.userId, input.jti, now + Math.min(validForMs, maxAgeMs), now);
      return outcome;
    },
    async rotate(input) {
      const result = await store.rotate(input);
      if (result.outcome === 'reused' || result.outcome === 'invalid') forgetUser(input.userId);
      return result;
    },
    // Creating a session revokes only when it evicts the user's oldest (the script then announces
    // it). One that failed may have evicted unseen: the user's answers go all the same (as after
    // any failed revoking call, the error goes out without waiting: it hands out no token).
    async create(input) {
      const creating = store.create(input);
      const grant = await creating.catch(() => undefined);
      return grant?.evictedOthers === false ? grant : revoking(input.userId, creating);
    },
    endSession: (userId, sessionId) => revoking(userId, store.endSession(userId, sessionId)),
    logout: (userId, sessionId, token) => revoking(userId, store.logout(userId, sessionId, token)),
    logoutWithRefreshToken: (userId, sessionId, generation) => revoking(userId, store.logoutWithRefreshToken(userId, sessionId, generation)),
    deny: (userId, sessionId, jti, ttlMs) => revoking(userId, store.deny(userId, sessionId, jti, ttlMs)),
    endAll: (userId) => revoking(userId, store.endAll(userId)),
    endOthers: (userId, keepSessionId) => revoking(userId, store.endOthers(userId, keepSessionId)),
    endOthersKeepingTokens: (userId, keepSessionId) => revoking(userId, store.endOthersKeepingTokens(userId, keepSessionId)),
    // A logout finding its session already ended answers as done: the message of the revocation
    // that ended it (on another instance, maybe a moment ago) must be out by then too. It revokes
    // nothing itself, so it forgets nothing: anyone may ask it, with any user id (no MAC to check).
    async confirmRevocations(userId) {
      await store.confirmRevocations(userId);
      await published(userId);
    },
    /** Whether answers are currently being served from the cache. */
    isLive: () => live,
    /** How many answers are held (for the metrics). */
    answersHeld: () => answers.size,
    async close() {
      closed = true;
      clearInterval(heartbeat);
      await closeRedis(subscriber, { hard: true });
      await store.close();
    },
  };
}
