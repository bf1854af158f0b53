import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CleanupStack } from '../../scripts/cluster/cleanup.js';
import { createCachedRevocationStore } from '../../src/sessions/cached-revocation-store.js';
import { redisKeys } from '../../src/sessions/redis-keys.js';
import { createRedisSessionStore, type RedisSessionStore } from '../../src/sessions/redis-session-store.js';
import type { SessionPolicy } from '../../src/sessions/session-store.js';
import { isUuid } from '../../src/util/uuid.js';
import { faultRedis } from '../faults/servers.js';
import { monitorRedis, type RedisMonitor } from '../helpers/redis-monitor.js';
import { uniquePrefix } from '../helpers/services.js';

const policy: SessionPolicy = { refreshLifetimeMs: 60_000, autoLogoutMs: 60_000, refreshReuseGraceMs: 1000, maxSessions: 50 };
/**
 * Answers kept for a minute and no beat for a minute (a missed beat also drops the cache): a
 * revocation seen within seconds can only have come by pub/sub.
 */
const PUB_SUB_ONLY = { maxAgeMs: 60_000, heartbeatMs: 60_000 };
const opened: (() => Promise<void>)[] = [];
/**
 * A Redis of this file's own: its tests kill every pub/sub connection and pause every client,
 * which on the shared server would cut the subscriptions and stall the requests of the test
 * files running beside this one.
 */
const cleanup = new CleanupStack();
let redisUrl = '';
let raw: Redis;
beforeAll(async () => {
  const server = await faultRedis(cleanup);
  await server.start();
  redisUrl = server.url;
  raw = new Redis(redisUrl);
  opened.push(async () => void raw.disconnect());
});
afterAll(async () => {
  await Promise.all(opened.map((close) => close()));
  await cleanup.run();
});

/** One "instance": its own command connection, subscription and cache, on a shared key prefix. */
async function instance(
  prefix: string,
  options: {
    maxAgeMs?: number;
    heartbeatMs?: number;
    policy?: SessionPolicy;
    rememberFrom?: 'first-read' | 'second-read';
    /** Wraps the Redis store the cache sits on (to hold its replies back). */
    wrap?: (store: RedisSessionStore) => RedisSessionStore;
  } = {},
) {
  const redis = new Redis(redisUrl, { lazyConnect: true, enableOfflineQueue: false, commandTimeout: 300 });
  const subscriber = new Redis(redisUrl, { lazyConnect: true, autoResubscribe: false, connectionName: `sub-${prefix}` });
  await redis.connect();
  const store = createCachedRevocationStore({
    store: (options.wrap ?? ((inner) => inner))(createRedisSessionStore({ redis, prefix, policy: options.policy ?? policy })),
    subscriber,
    channel: redisKeys(prefix).revocationChannel,
    maxAgeMs: options.maxAgeMs ?? 10_000,
    maxEntries: 10_000,
    logger: pino({ level: 'silent' }),
    heartbeatMs: options.heartbeatMs ?? 200,
    rememberFrom: options.rememberFrom ?? 'second-read',
  });
  await subscriber.connect();
  await expect.poll(() => store.isLive(), { timeout: 5_000 }).toBe(true);
  opened.push(() => store.close());
  return Object.assign(store, { subscriber });
}

async function session(store: Instance) {
  const userId = randomUUID();
  const sessionId = randomUUID();
  const grant = await store.create({ userId, sessionId, salt: randomBytes(8).toString('hex'), roles: [], meta: {} });
  const claims = { userId, sessionId, jti: randomUUID(), tokenVersion: grant.tokenVersion };
  return { userId, sessionId, claims };
}

type Instance = Awaited<ReturnType<typeof instance>>;
type Claims = Awaited<ReturnType<typeof session>>['claims'];

/** Reads a token twice: its answer is remembered from its second read on. */
async function remembered(store: Instance, claims: Claims) {
  for (let read = 0; read < 2; read += 1) expect(await store.authenticate(claims)).toBe('ok');
}

/** Deletes a session behind the caches' back (no publish): only a cached answer can still say ok. */
const deleteSilently = (prefix: string, userId: string, sessionId: string) => raw.del(redisKeys(prefix).session(userId, sessionId));

/**
 * The commands `monitor` saw between two marks, lower-cased and joined, of this prefix only: other
 * tests' instances, still open, beat on channels of their own.
 */
function sentOnPrefix(monitor: RedisMonitor, prefix: string, from: number, to: number) {
  return monitor.commands
    .slice(from + 1, to)
    .map(([name = '', ...args]) => [name.toLowerCase(), ...args].join(' '))
    .filter((command) => command.includes(prefix));
}

describe('cached revocation mode', () => {
  it('serves repeated answers from the cache, and drops them when another instance revokes', async () => {
    const prefix = uniquePrefix();
    const [a, b] = await Promise.all([instance(prefix, PUB_SUB_ONLY), instance(prefix, PUB_SUB_ONLY)]);
    const { userId, sessionId, claims } = await session(a);
    await remembered(b, claims);
    await deleteSilently(prefix, userId, sessionId);
    expect(await b.authenticate(claims)).toBe('ok'); // cached: Redis no longer has the session

    await a.logout(userId, sessionId, { jti: claims.jti, tokenVersion: claims.tokenVersion, ttlMs: 60_000 });
    // Far below the 60 s max age: only pub/sub explains it.
    await expect.poll(() => b.authenticate(claims), { interval: 1, timeout: 3000 }).toBe('denied');
  });

  it('remembers a token\'s answer from its second read on, so tokens used once never fill the cache', async () => {
    const prefix = uniquePrefix();
    const store = await instance(prefix, PUB_SUB_ONLY);
    const once = await session(store);
    expect(await store.authenticate(once.claims)).toBe('ok');
    await deleteSilently(prefix, once.userId, once.sessionId);
    expect(await store.authenticate(once.claims)).toBe('no_session'); // the first read was not kept

    const twice = await session(store);
    await remembered(store, twice.claims);
    await deleteSilently(prefix, twice.userId, twice.sessionId);
    expect(await store.authenticate(twice.claims)).toBe('ok'); // the second was
  });

  it('propagates logout-all (token version bump) to every instance well before the max age', async () => {
    const prefix = uniquePrefix();
    const [a, b, c] = await Promise.all([instance(prefix, PUB_SUB_ONLY), instance(prefix, PUB_SUB_ONLY), instance(prefix, PUB_SUB_ONLY)]);
    const { userId, claims } = await session(a);
    for (const store of [a, b, c]) await remembered(store, claims);
    await c.endAll(userId);
    // Far below the 60 s max age: only pub/sub explains it.
    for (const store of [a, b, c]) await expect.poll(() => store.authenticate(claims), { interval: 1, timeout: 3000 }).not.toBe('ok');
  });

  // Redis writes a revoking script's reply and its message to each subscriber in one pass, but may
  // be descheduled between the writes: a client that got the reply could then ask an instance whose
  // message has not left Redis yet (the bench's g counts such first checks; README, cached mode).
  it('answers a revocation only after a read of the user\'s slot sent once the script had replied', async () => {
    const prefix = uniquePrefix();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // endAll's reply is held until released: the confirming read must wait for it, not go with it.
    const a = await instance(prefix, { ...PUB_SUB_ONLY, wrap: (store) => ({ ...store, endAll: (userId) => store.endAll(userId).finally(() => held) }) });
    const { userId, sessionId, claims } = await session(a);
    const monitor = await monitorRedis(redisUrl);
    opened.push(async () => monitor.close());
    const confirmation = `exists ${redisKeys(prefix).tokenVersion(userId)}`;
    const sentBetween = (from: number, to: number) => sentOnPrefix(monitor, prefix, from, to);
    const revocations = [
      { scripted: true, revoke: () => a.logout(userId, sessionId, { jti: claims.jti, tokenVersion: claims.tokenVersion, ttlMs: 60_000 }) },
      {
        scripted: true,
        revoke: async () => {
          const start = await monitor.mark('start');
          const ending = a.endAll(userId);
          // The script has run (its reply held), and one more round trip has passed: nothing confirms it yet.
          await expect.poll(() => sentBetween(start, monitor.commands.length).some((command) => command.startsWith('eval'))).toBe(true);
          expect(sentBetween(start, await monitor.mark('held'))).not.toContain(confirmation);
          release();
          await ending;
        },
      },
      // A logout whose session another instance has just ended answers after this, with no script.
      { scripted: false, revoke: () => a.confirmEnded(userId, randomUUID()) },
    ];
    for (const { scripted, revoke } of revocations) {
      const from = await monitor.mark('before');
      await revoke();
      const sent = sentBetween(from, await monitor.mark('after'));
      expect(sent.at(-1)).toBe(confirmation);
      expect(sent.slice(0, -1).some((command) => /^eval(sha)? /.test(command))).toBe(scripted);
    }
  });

  it('waits for a login\'s message only when it evicted an older session, and keeps cached answers when it did not', async () => {
    const prefix = uniquePrefix();
    const a = await instance(prefix, { ...PUB_SUB_ONLY, policy: { ...policy, maxSessions: 2 } });
    const { userId, claims } = await session(a);
    await remembered(a, claims);
    const monitor = await monitorRedis(redisUrl);
    opened.push(async () => monitor.close());
    const confirmation = `exists ${redisKeys(prefix).tokenVersion(userId)}`;
    const sentDuring = async <R>(work: () => Promise<R>) => {
      const from = await monitor.mark('before');
      const result = await work();
      return { result, sent: sentOnPrefix(monitor, prefix, from, await monitor.mark('after')) };
    };
    const login = () => sentDuring(() => a.create({ userId, sessionId: randomUUID(), salt: randomBytes(8).toString('hex'), roles: [], meta: {} }));

    const roomy = await login();
    expect(roomy.result.evictedOthers).toBe(false);
    expect(roomy.sent.some((command) => /^eval(sha)? /.test(command))).toBe(true);
    expect(roomy.sent).not.toContain(confirmation);
    const cached = await sentDuring(() => a.authenticate(claims));
    expect(cached.result).toBe('ok');
    expect(cached.sent).toEqual([]); // answered from the cache, still there

    const evicting = await login(); // the third of two: the first session goes
    expect(evicting.result.evictedOthers).toBe(true);
    expect(evicting.sent.at(-1)).toBe(confirmation);
    expect(await a.authenticate(claims)).not.toBe('ok');
  });

  it('forgets the user\'s cached answers when a login fails: it may have evicted a session unseen', async () => {
    const prefix = uniquePrefix();
    const lost = new Error('the reply was lost');
    let failing = false;
    // A failing login here ends the user's session behind the cache's back (no message), as a
    // script that evicted before its reply was lost would, were its message slow.
    const a = await instance(prefix, {
      ...PUB_SUB_ONLY,
      wrap: (store) => ({
        ...store,
        create: async (input) => {
          if (!failing) return store.create(input);
          await deleteSilently(prefix, userId, sessionId);
          throw lost;
        },
      }),
    });
    const { userId, sessionId, claims } = await session(a);
    await remembered(a, claims);
    failing = true;
    await expect(a.create({ userId, sessionId: randomUUID(), salt: 'salt', roles: [], meta: {} })).rejects.toBe(lost);
    expect(await a.authenticate(claims)).not.toBe('ok');
  });

  it('forgets no cached answer for a confirmation alone, which anyone may ask for with any user id', async () => {
    const prefix = uniquePrefix();
    const a = await instance(prefix, PUB_SUB_ONLY);
    const { userId, sessionId, claims } = await session(a);
    await remembered(a, claims);
    await deleteSilently(prefix, userId, sessionId);
    await a.confirmEnded(userId, sessionId);
    expect(await a.authenticate(claims)).toBe('ok'); // still the cached answer: nothing was revoked
  });

  it('forgets no cached answer for revocations replayed that change nothing, on the instance replaying them or any other', async () => {
    const prefix = uniquePrefix();
    const [a, b] = await Promise.all([instance(prefix, PUB_SUB_ONLY), instance(prefix, PUB_SUB_ONLY)]);
    const revoked = await session(a);
    const { userId } = revoked;
    const kept = { ...revoked.claims, sessionId: randomUUID(), jti: randomUUID() };
    await a.create({ userId, sessionId: kept.sessionId, salt: randomBytes(8).toString('hex'), roles: [], meta: {} });
    const deniedJti = randomUUID();
    const token = { jti: revoked.claims.jti, tokenVersion: revoked.claims.tokenVersion, ttlMs: 60_000 };
    expect(await a.deny(userId, revoked.sessionId, deniedJti, 60_000)).toBe('denied');
    expect(await a.logout(userId, revoked.sessionId, token)).toBe('ended');
    // The kept session's answer is cached on both, then the session goes behind their back: only a
    // cached answer still says ok.
    for (const cache of [a, b]) await remembered(cache, kept);
    await deleteSilently(prefix, userId, kept.sessionId);
    // The user ids announced (heartbeats aside).
    const heard: string[] = [];
    b.subscriber.on('message', (_channel: string, message: string) => isUuid(message) && heard.push(message));

    expect(await a.logout(userId, revoked.sessionId, token)).toBe('gone');
    // A logout with an expired token (still authentic: anyone may keep theirs) denies nothing.
    expect(await a.logout(userId, revoked.sessionId, { ...token, jti: randomUUID(), ttlMs: -5_000 })).toBe('gone');
    expect(await a.deny(userId, revoked.sessionId, deniedJti, 60_000)).toBe('repeated');
    expect(await a.endSession(userId, revoked.sessionId)).toBe(false);
    expect(await a.authenticate(kept)).toBe('ok');
    // A real revocation's message comes after any the replays sent.
    const other = await session(a);
    expect(await a.endSession(other.userId, other.sessionId)).toBe(true);
    await expect.poll(() => heard, { timeout: 5_000 }).toContain(other.userId);
    expect(heard).toEqual([other.userId]);
    expect(await b.authenticate(kept)).toBe('ok');
  });

  it('never serves a session past its end, even on an instance whose clock is 30 s behind Redis\'s', async () => {
    const prefix = uniquePrefix();
    const store = await instance(prefix, { policy: { ...policy, autoLogoutMs: 1500 } });
    const { claims } = await session(store);
    const realNow = Date.now.bind(Date);
    const behind = vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 30_000);
    try {
      await remembered(store, claims);
      // Idle past auto-logout: Redis has let the session expire (cache hits are no activity).
      await sleep(2000);
      expect(await store.authenticate(claims)).toBe('no_session');
    } finally {
      behind.mockRestore();
    }
  });

  it('never serves a session past its end when this instance\'s clock is stepped back while the answer is cached', async () => {
    const prefix = uniquePrefix();
    const store = await instance(prefix, { policy: { ...policy, autoLogoutMs: 1500 } });
    const { claims } = await session(store);
    await remembered(store, claims);
    // NTP steps the wall clock back a minute; the cached answer must still end with the session.
    const realNow = Date.now.bind(Date);
    const stepped = vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 60_000);
    try {
      expect(await store.authenticate(claims)).toBe('ok');
      await sleep(2000);
      expect(await store.authenticate(claims)).toBe('no_session');
    } finally {
      stepped.mockRestore();
    }
  });

  // A smoke test of reads and a revocation in flight together: the ordering that needs the epoch
  // guard (a reply processed after the revocation's message) seldom happens here; the next test forces it.
  it('never keeps an answer that raced with a revocation', async () => {
    const prefix = uniquePrefix();
    // b remembers every answer it may: each reply that lands after the revocation is one to refuse.
    const [a, b] = await Promise.all([instance(prefix), instance(prefix, { rememberFrom: 'first-read' })]);
    for (let round = 0; round < 100; round += 1) {
      const { userId, sessionId, claims } = await session(a);
      await Promise.all([b.authenticate(claims), b.authenticate(claims), a.endSession(userId, sessionId), b.authenticate(claims)]);
      await sleep(5);
      expect(await b.authenticate(claims)).not.toBe('ok');
    }
  });

  it('never keeps a reply read before a revocation that comes back after its message', async () => {
    const prefix = uniquePrefix();
    let replied!: () => void;
    let release!: () => void;
    const gotReply = new Promise<void>((resolve) => (replied = resolve));
    const held = new Promise<void>((resolve) => (release = resolve));
    const a = await instance(prefix);
    // b remembers every answer it may, and its first reply from Redis is held back until released.
    const b = await instance(prefix, {
      rememberFrom: 'first-read',
      wrap: (store) => ({
        ...store,
        async authenticateUntil(input) {
          const reply = await store.authenticateUntil(input);
          replied();
          await held;
          return reply;
        },
      }),
    });
    const { userId, sessionId, claims } = await session(a);
    // The store's own listener was added first, so when this one hears the user id, b has applied it.
    const revocationSeen = new Promise<void>((resolve) => b.subscriber.on('message', (_channel: string, message: string) => message === userId && resolve()));
    const late = b.authenticate(claims);
    await gotReply; // read in Redis while the session was live
    await a.endSession(userId, sessionId);
    await revocationSeen;
    release();
    expect(await late).toBe('ok'); // true when read
    expect(await b.authenticate(claims)).toBe('no_session'); // but not kept: it came back after the revocation
  });

  it('keeps the cache off while one path of its heartbeats stays broken, retrying that path', async () => {
    const turns: number[] = [];
    // Beats sent on turn 2 (on a Cluster, through one master) never arrive.
    const b = await instance(uniquePrefix(), {
      wrap: (store) => ({
        ...store,
        async announce(message, turn = 0) {
          turns.push(turn);
          if (turn !== 2) await store.announce(message, turn);
        },
      }),
    });
    await expect.poll(() => b.isLive(), { interval: 10, timeout: 5000 }).toBe(false);
    const lost = turns.length;
    // For a second more: every beat retries the broken path, and none turns the cache on.
    for (let wait = 0; wait < 10; wait += 1) {
      await sleep(100);
      expect(b.isLive()).toBe(false);
    }
    const firstLost = turns.indexOf(2);
    // Turns 0 and 1 (maybe one of them twice, on a busy machine), then 2 and only 2.
    expect(new Set(turns.slice(0, firstLost))).toEqual(new Set([0, 1]));
    expect(turns.length).toBeGreaterThan(lost); // retried (each retry waits for a resubscription)
    expect(new Set(turns.slice(firstLost))).toEqual(new Set([2]));
  });

  it('stops serving from the cache while the subscription is down, and resumes after', async () => {
    const prefix = uniquePrefix();
    const b = await instance(prefix);
    const first = await session(b);
    await remembered(b, first.claims);
    await raw.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await expect.poll(() => b.isLive(), { interval: 5, timeout: 2000 }).toBe(false);
    await deleteSilently(prefix, first.userId, first.sessionId);
    expect(await b.authenticate(first.claims)).toBe('no_session');
    await expect.poll(() => b.isLive(), { interval: 20, timeout: 5000 }).toBe(true);

    const second = await session(b);
    await remembered(b, second.claims);
    await deleteSilently(prefix, second.userId, second.sessionId);
    expect(await b.authenticate(second.claims)).toBe('ok');
  });

  it('stops answering from the cache when its subscription stops delivering, even on a healthy connection', async () => {
    const prefix = uniquePrefix();
    const b = await instance(prefix);
    const { claims, userId, sessionId } = await session(b);
    await remembered(b, claims);
    // Connected and answering, but no longer receiving the channel: only an end-to-end beat notices.
    await b.subscriber.unsubscribe(redisKeys(prefix).revocationChannel);
    const stopped = performance.now();
    // Without the beat it would never notice; a few beats' time (200 ms each) allows for a busy machine.
    await expect.poll(() => b.isLive(), { interval: 10, timeout: 5000 }).toBe(false);
    expect(performance.now() - stopped).toBeLessThan(2500);
    await deleteSilently(prefix, userId, sessionId);
    expect(await b.authenticate(claims)).toBe('no_session');
    // The subscription is made again (the connection is reset) and the cache comes back.
    await expect.poll(() => b.isLive(), { interval: 20, timeout: 5000 }).toBe(true);
  });

  it('after an error event that leaves the subscription connected, turns the cache off and back on by itself', async () => {
    const prefix = uniquePrefix();
    const b = await instance(prefix);
    const { claims } = await session(b);
    await remembered(b, claims);
    // ioredis reports some failures (a reply it cannot match to a command) without closing.
    b.subscriber.emit('error', new Error('Command queue state error'));
    expect(b.isLive()).toBe(false);
    expect(b.subscriber.status).toBe('ready');
    await expect.poll(() => b.isLive(), { interval: 20, timeout: 5000 }).toBe(true);
  });

  it('stops answering from the cache within two heartbeats when Redis freezes', async () => {
    const prefix = uniquePrefix();
    const b = await instance(prefix);
    const { claims } = await session(b);
    await remembered(b, claims);
    const pauser = new Redis(redisUrl);
    try {
      await pauser.call('CLIENT', 'PAUSE', '4000', 'ALL');
      const frozen = performance.now();
      await expect.poll(() => b.isLive(), { interval: 10, timeout: 2500 }).toBe(false);
      // Two 200 ms beats in theory; generous here because CI machines are shared. Without the
      // beat nothing would notice: the connection stays open.
      expect(performance.now() - frozen).toBeLessThan(2500);
      await expect(b.authenticate(claims)).rejects.toThrow();
    } finally {
      pauser.disconnect();
    }
    await expect.poll(() => b.isLive(), { interval: 50, timeout: 8000 }).toBe(true);
  });

  it('never reuses an answer past its max age or past the session end', async () => {
    const prefix = uniquePrefix();
    const short = await instance(prefix, { maxAgeMs: 300 });
    const first = await session(short);
    await remembered(short, first.claims);
    await deleteSilently(prefix, first.userId, first.sessionId);
    await sleep(350);
    expect(await short.authenticate(first.claims)).toBe('no_session');

    const brief = await instance(uniquePrefix(), { policy: { ...policy, refreshLifetimeMs: 600 } });
    const second = await session(brief);
    await remembered(brief, second.claims);
    await sleep(700);
    expect(await brief.authenticate(second.claims)).toBe('no_session');
  });
});
