import type { Logger } from 'pino';
import { doorkeeperFor } from '../util/doorkeeper.js';
import { afterIoRound } from '../util/io-round.js';
import type { RedisClient } from './redis-client.js';
import type { RedisSessionStore } from './redis-session-store.js';
import { createRevocationAnswers } from './revocation-answers.js';
import { createRevocationFeed } from './revocation-feed.js';
import type { LogoutOutcome, SessionStore } from './session-store.js';

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
 * `cache.revocation: cached` — remembers positive `/authenticate` answers per (user, jti) for at
 * most `maxAgeMs` and never past the session's own end, and forgets a user's answers as soon as
 * an instance revokes something of that user (every revoking script that changes something
 * publishes the user id).
 *
 * Safety rules: answers are served only while the subscription is confirmed alive (subscribed
 * and answering a heartbeat: the revocation feed, revocation-feed.ts); when it is not, the cache
 * is emptied and every request reads Redis again. An answer read from Redis is stored only if no revocation message arrived while
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
  const feed = createRevocationFeed({
    subscriber,
    channel,
    announce: (beat, received) => store.announce(beat, received),
    heartbeatMs,
    logger,
    onRevoked: forgetUser,
    onReset: reset,
  });

  /**
   * Resolves once Redis has written out the user's revocation messages to every subscription (see
   * `awaitPublished`): a check sent to another instance after the revoking response then finds the
   * message there, and is answered only after it (see `authenticate`). If that read fails, the
   * revocation stands all the same, and an instance that cannot hear it turns its cache off
   * within two beats.
   */
  const published = (userId: string) => store.awaitPublished(userId).catch(() => {});

  /**
   * Forgets the user's answers once a revoking call has settled, and answers once its message is
   * out. A call that `changed` nothing (a replay: its script announced nothing either) forgets
   * nothing, so that replays cannot keep this instance from remembering answers; one that failed
   * may have changed anything.
   */
  const revoking = async <R>(userId: string, call: Promise<R>, changed: (result: R) => boolean = () => true): Promise<R> => {
    const result = await call.catch((error: unknown) => {
      forgetUser(userId);
      throw error;
    });
    if (changed(result)) forgetUser(userId);
    await published(userId);
    return result;
  };
  /**
   * A logout that found its session gone changed no answer here, unless the session went unannounced
   * (evicted): then its script announced the jti it denied, and this instance hears that as every other does.
   */
  const ended = (outcome: LogoutOutcome) => outcome === 'ended';

  return {
    ...store,
    async authenticate(input) {
      // The monotonic clock: a wall clock stepped back (NTP) would keep answers past their end.
      const now = performance.now();
      if (feed.live) {
        const until = answers.until(input.userId, input.jti);
        if (until !== undefined && until > now) {
          // Let every I/O callback already due run first: a revocation message that reached this
          // process before this request did is then applied before we answer.
          await afterIoRound();
          if (feed.live && answers.until(input.userId, input.jti) === until) return 'ok';
        }
      }
      const before = epoch;
      let reply;
      try {
        reply = await store.authenticateUntil(input);
      } catch (error) {
        feed.stop('session store unavailable');
        throw error;
      }
      // Relative to this instance's clock, from before the round trip: never past the session's end
      // however far this clock is from Redis's.
      const { outcome, validForMs } = reply;
      if (outcome === 'ok' && feed.live && epoch === before && (doorkeeper?.seen(input.jti) ?? true)) answers.remember(input.userId, input.jti, now + Math.min(validForMs, maxAgeMs), now);
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
    endSession: (userId, sessionId) => revoking(userId, store.endSession(userId, sessionId), (existed) => existed),
    logout: (userId, sessionId, token) => revoking(userId, store.logout(userId, sessionId, token), ended),
    logoutWithRefreshToken: (userId, sessionId, generation) => revoking(userId, store.logoutWithRefreshToken(userId, sessionId, generation), ended),
    deny: (userId, sessionId, jti, ttlMs) => revoking(userId, store.deny(userId, sessionId, jti, ttlMs), (outcome) => outcome !== 'repeated'),
    endAll: (userId) => revoking(userId, store.endAll(userId)),
    endOthers: (userId, keepSessionId, roles) => revoking(userId, store.endOthers(userId, keepSessionId, roles)),
    endOthersKeepingTokens: (userId, keepSessionId) => revoking(userId, store.endOthersKeepingTokens(userId, keepSessionId)),
    // A logout finding its session already ended answers as done: the message of the revocation
    // that ended it (on another instance, maybe a moment ago) must be out by then too. It revokes
    // nothing itself, so it forgets nothing: anyone may ask it, with any user id (no MAC to check).
    async confirmEnded(userId, sessionId) {
      await store.confirmEnded(userId, sessionId);
      await published(userId);
    },
    /** Whether answers are currently being served from the cache. */
    isLive: () => feed.live,
    /** How many answers are held (for the metrics). */
    answersHeld: () => answers.size,
    async close() {
      await feed.close();
      await store.close();
    },
  };
}
