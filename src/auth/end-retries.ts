import type { Logger } from 'pino';
import type { SessionStore } from '../sessions/session-store.js';
import { waitAtMost } from '../util/wait-at-most.js';

/** A failed end is tried again after this, doubling up to `RETRY_MAX_MS`... */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;
/** ...for this long at most: a Redis down longer is an outage whose repeat the 503 asked for. */
const RETRY_FOR_MS = 5 * 60_000;
/** How long a shutdown waits for the last tries (as for late writes: the drain's grace is short). */
const SETTLE_WAIT_MS = 2_000;

/**
 * The ends of every session of a user that a saved change needs (an admin's disable or role
 * change, a password change's fallback) and an outage refused, the caller having answered 503:
 * tried again in the background, after 1 s doubling to 30 s, for five minutes, so the sessions
 * end once Redis is back without waiting for the repeat the 503 asks for. One chain per user.
 * Ending them more than once only logs the user out again, never revives anything.
 */
export interface EndRetries {
  /** Tries again until an end succeeds, or five minutes pass; restarts the user's chain if one runs. */
  schedule(userId: string, why: string): void;
  /** The user's sessions were ended meanwhile (a repeat that worked): no more tries. */
  cancel(userId: string): void;
  /**
   * At shutdown: one last try of each pending end, now (waited for up to 2 s); each that fails is
   * logged by user, as is an end scheduled afterwards.
   */
  settle(): Promise<void>;
}

/** What is logged of an end that fails, or comes, while the instance stops: nothing tries it again. */
const stoppingLine = (why: string) => `${why}: ending every session failed, and this instance is stopping: repeat the change`;

interface Chain {
  why: string;
  timer: NodeJS.Timeout;
}

export function createEndRetries({ sessions, logger }: { sessions: Pick<SessionStore, 'endAll'>; logger: Logger }): EndRetries {
  const chains = new Map<string, Chain>();
  let stopping = false;

  const cancel = (userId: string) => {
    const chain = chains.get(userId);
    if (!chain) return;
    clearTimeout(chain.timer);
    chains.delete(userId);
  };

  return {
    schedule(userId, why) {
      cancel(userId);
      if (stopping) {
        logger.error({ userId }, stoppingLine(why));
        return;
      }
      // The monotonic clock: a wall clock stepped back would stretch the five minutes.
      const giveUpAt = performance.now() + RETRY_FOR_MS;
      let delayMs = RETRY_FIRST_MS;
      // Only the user's current chain goes on: one cancelled or restarted meanwhile stops here.
      const attempt = (chain: Chain) => {
        sessions.endAll(userId).then(
          () => {
            if (chains.get(userId) !== chain) return;
            chains.delete(userId);
            logger.warn({ userId }, `${why}: every session ended on a retry`);
          },
          (error: unknown) => {
            if (chains.get(userId) !== chain) return;
            delayMs = Math.min(2 * delayMs, RETRY_MAX_MS);
            if (performance.now() + delayMs <= giveUpAt) {
              chain.timer = setTimeout(() => attempt(chain), delayMs).unref();
              return;
            }
            chains.delete(userId);
            logger.error({ err: error, userId }, `${why}: ending every session still failed after ${RETRY_FOR_MS / 60_000} minutes of retries`);
          },
        );
      };
      const chain: Chain = { why, timer: setTimeout(() => attempt(chain), delayMs).unref() };
      chains.set(userId, chain);
    },
    cancel,
    async settle() {
      stopping = true;
      const pending = [...chains];
      for (const [userId] of pending) cancel(userId);
      const lastTries = Promise.all(
        pending.map(([userId, { why }]) =>
          sessions.endAll(userId).catch((error: unknown) => logger.error({ err: error, userId }, stoppingLine(why))),
        ),
      );
      await waitAtMost(lastTries, SETTLE_WAIT_MS);
    },
  };
}
