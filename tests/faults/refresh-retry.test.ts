/**
 * Issue 7, item 1, last clause: "a write reported as failed is never applied later as a
 * different outcome". Here the write is a refresh-token rotation.
 *
 * Why it holds (see src/sessions/redis-connection.ts and the rotate script):
 * - the service never re-sends: ioredis runs with `autoResendUnfulfilledCommands: false` and no
 *   offline queue, so a command whose reply was lost is not sent again by the library;
 * - but a command already on the wire when Redis froze IS executed when Redis resumes, after the
 *   client was told 503. For a rotation that means the session moved to generation c+1 while the
 *   client still holds the generation-c token. Its retry then finds `g == c-1` inside
 *   `auth.refresh_reuse_grace` (10 s) and is answered with the identical successor (grace replay),
 *   never as reuse: the late write has the outcome the client asked for, and the session lives.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CleanupStack } from '../../scripts/cluster/cleanup.js';
import { redisKeys } from '../../src/sessions/redis-keys.js';
import { testCluster, type TestInstance } from '../helpers/test-app.js';
import { authenticate, type Exchange, type Login, refresh, register, report, request } from './http.js';
import { type FaultRedis, faultRedis } from './servers.js';

describe('a refresh answered 503 during a Redis fault, then retried with the same token', () => {
  const cleanup = new CleanupStack();
  let redis: FaultRedis;
  let app: TestInstance;
  let admin: Redis;

  beforeAll(async () => {
    redis = await faultRedis(cleanup);
    await redis.start();
    // 1 s: the paused rotation below answers 503 at 1 s, runs at 1.5 s, before the connection
    // would be dropped for sending nothing back (2 × command_timeout).
    const cluster = await testCluster({ cache: { url: redis.url, command_timeout: '1000ms' } });
    app = await cluster.start();
    admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await admin.connect();
    cleanup.add(() => admin.disconnect());
  });

  afterEach(async () => {
    redis.thaw();
    await admin.client('UNPAUSE').catch(() => undefined);
  });

  afterAll(async () => {
    await app.stop();
    await cleanup.run();
  });

  const generation = async (user: Login) =>
    Number(await admin.hget(redisKeys(app.deps.config.cache.key_prefix).session(user.userId, user.sessionId), 'gen'));

  /** `jwt_refresh_total` by outcome, from the instance's /metrics. */
  async function refreshOutcomes(): Promise<Record<string, number>> {
    const response = await fetch(`${app.url}/metrics`);
    const counts: Record<string, number> = {};
    for (const match of (await response.text()).matchAll(/^jwt_refresh_total\{outcome="(\w+)"\} (\d+)$/gm)) counts[match[1]!] = Number(match[2]);
    return counts;
  }

  /** `send` again while it answers 503, as a client honouring Retry-After does (for at most 5 s). */
  async function retriedWhileUnavailable(send: () => Promise<Exchange>): Promise<Exchange> {
    const deadline = performance.now() + 5_000;
    let response = await send();
    while (response.status === 503 && performance.now() < deadline) {
      await sleep(100);
      response = await send();
    }
    return response;
  }

  /** The session is alive: its new tokens work and it is still listed. */
  async function expectSessionAlive(user: Login, tokens: Record<string, unknown> | null) {
    const accessToken = tokens?.access_token as string;
    expect((await authenticate(app.url, accessToken)).status).toBe(200);
    const sessions = await request(app.url, 'GET', '/sessions', { token: accessToken });
    expect((sessions.body?.sessions as { id: string }[]).map((session) => session.id)).toContain(user.sessionId);
    const next = await refresh(app.url, tokens?.refresh_token as string);
    expect(next.status).toBe(200);
    expect((await authenticate(app.url, next.body?.access_token as string)).status).toBe(200);
  }

  it('Redis frozen (SIGSTOP) during the refresh: 503, then after SIGCONT the same token gives 200 and the session survives', async () => {
    const user = await register(app.url);
    const before = await refreshOutcomes();
    redis.freeze();
    const failed = await refresh(app.url, user.refreshToken);
    expect(failed.status).toBe(503);
    expect(failed.headers.get('retry-after')).toMatch(/^\d+$/);
    await sleep(Math.max(0, 2_000 - failed.ms));
    redis.thaw();

    // The client retries while told to (503 + Retry-After): the connection the freeze dropped is
    // being made again.
    const retry = await retriedWhileUnavailable(() => refresh(app.url, user.refreshToken));
    expect(retry.status, JSON.stringify(retry.body)).toBe(200);
    const after = await refreshOutcomes();
    report(`SIGSTOP: refresh 503 in ${failed.ms.toFixed(0)} ms; retry after SIGCONT -> ${retry.status}; outcomes ${JSON.stringify(after)}`);
    expect((after.rotated ?? 0) + (after.replayed ?? 0)).toBe((before.rotated ?? 0) + (before.replayed ?? 0) + 1);
    expect(after.reused ?? 0).toBe(before.reused ?? 0);
    await expectSessionAlive(user, retry.body);
  }, 30_000);

  it('a rotation that Redis applies after the client was told 503 is answered as a grace replay on retry, never as reuse', async () => {
    const user = await register(app.url);
    // One rotation first: the script is loaded on this connection, so the paused call is a plain
    // EVALSHA that Redis executes as soon as the pause ends.
    const first = await refresh(app.url, user.refreshToken);
    expect(first.status).toBe(200);
    const token = first.body?.refresh_token as string;
    expect(await generation(user)).toBe(1);
    const before = await refreshOutcomes();

    // Reads (the salt lookup) go through; the rotate script is held by Redis past the 1 s
    // command timeout, so the client answers 503 while the rotation is still pending in Redis.
    await admin.client('PAUSE', '1500', 'WRITE');
    const failed = await refresh(app.url, token);
    expect(failed.status, JSON.stringify(failed.body)).toBe(503);
    expect(await generation(user), 'the held rotation must not have run yet').toBe(1);
    await sleep(1_600);
    expect(await generation(user), 'Redis executed the rotation after the client was told 503').toBe(2);

    // The retry with the same token: the identical successor, twice over (deterministic replay).
    const retry = await refresh(app.url, token);
    const again = await refresh(app.url, token);
    expect(retry.status, JSON.stringify(retry.body)).toBe(200);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body?.refresh_token).toBe(retry.body?.refresh_token);
    expect(await generation(user)).toBe(2);
    const after = await refreshOutcomes();
    report(`late rotation: refresh 503 in ${failed.ms.toFixed(0)} ms, applied after the pause; retries -> ${retry.status}, ${again.status}; outcomes ${JSON.stringify(after)}`);
    expect((after.replayed ?? 0) - (before.replayed ?? 0)).toBe(2);
    expect(after.reused ?? 0).toBe(before.reused ?? 0);
    await expectSessionAlive(user, retry.body);
  }, 30_000);
});
