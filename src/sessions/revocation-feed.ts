import { randomUUID } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import type { Logger } from 'pino';
import { closeRedis } from './redis-connection.js';
import type { RedisClient } from './redis-client.js';

/** Revocation messages are user ids (UUIDs); heartbeats start with this. */
const HEARTBEAT = 'hb:';

export interface RevocationFeedOptions {
  /** A dedicated connection for the subscription (it cannot issue other commands). */
  subscriber: RedisClient;
  channel: string;
  /** Publishes a heartbeat the way revocations are published (the session store's `announce`). */
  announce: (beat: string, received: number) => Promise<unknown>;
  heartbeatMs: number;
  logger: Logger;
  /** A revocation message: something of this user was revoked. */
  onRevoked: (userId: string) => void;
  /** Whatever the feed said so far no longer counts: it went off, or comes back on. */
  onReset: () => void;
}

/** The revocation messages of every instance, and whether they are known to arrive. */
export interface RevocationFeed {
  /** Subscribed and answering heartbeats: every revocation published now reaches `onRevoked`. */
  readonly live: boolean;
  /** Off (and `onReset`) until a heartbeat comes back, for `reason`. */
  stop(reason: string): void;
  close(): Promise<void>;
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
 * The subscription to the revocation channel, confirmed alive by heartbeats that travel the
 * revocations' own path. It is live only while subscribed and answering a heartbeat; whenever it
 * goes off or comes back, `onReset` voids what was learnt meanwhile.
 */
export function createRevocationFeed({ subscriber, channel, announce, heartbeatMs, logger, onRevoked, onReset }: RevocationFeedOptions): RevocationFeed {
  let live = false;
  const stop = (reason: string) => {
    onReset();
    if (live) logger.warn({ reason }, 'revocation cache off: reading Redis on every request until the subscription is back');
    live = false;
  };

  // Heartbeats travel the path revocations take: published on this instance's command connection
  // (with replicated revocations, not on the revocations' own, which blocks in WAIT: see
  // `announce`), received on its subscription. Another instance's beats are ignored. `received`
  // picks the path of the next beat (on a Cluster, the slot-owning master in turn, see
  // `announce`): it moves on only past a beat that came back, so after a lost beat the next one
  // retries the same path, and the feed stays off while that path is broken.
  const beatPrefix = `${HEARTBEAT}${randomUUID()}:`;
  let beats = 0;
  let received = 0;
  let awaitedBeat: string | undefined;
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    if (!message.startsWith(HEARTBEAT)) {
      onRevoked(message);
      return;
    }
    if (message !== awaitedBeat) return;
    awaitedBeat = undefined;
    received += 1;
    if (!live && subscribed) resume();
  });
  let subscribed = false;
  // On a Cluster, the node connection the subscription sits on: the feed is live only while it
  // is the one watched, and its closing turns the feed off at once.
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
    onReset();
    live = true;
    logger.info('revocation cache on');
  };
  const sendBeat = () => {
    const beat = `${beatPrefix}${(beats += 1)}`;
    awaitedBeat = beat;
    announce(beat, received).catch(() => {
      if (awaitedBeat !== beat) return;
      awaitedBeat = undefined;
      stop('heartbeat could not be sent');
    });
  };
  // Subscribed is not yet delivering: the feed goes live with the first beat that comes back.
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
  // may report nothing: a beat still unreceived at the next one turns the feed off, so stale
  // answers last < 2 beats (on a Cluster, < masters + 1). A beat received while the feed is off
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

  return {
    get live() {
      return live;
    },
    stop,
    async close() {
      closed = true;
      clearInterval(heartbeat);
      await closeRedis(subscriber, { hard: true });
    },
  };
}
