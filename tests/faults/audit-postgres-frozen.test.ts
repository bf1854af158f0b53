/**
 * Issue 6, item 6: the audit trail is written off the request path. With PostgreSQL frozen
 * (SIGSTOP: connections open, nothing answered), requests that only need Redis (refresh, logout)
 * keep answering at once although each records an event; the bounded queue drops its oldest
 * events and counts them; after SIGCONT the queued events reach `auth_events`.
 */
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CleanupStack } from '../../scripts/cluster/cleanup.js';
import { testCluster, type TestInstance } from '../helpers/test-app.js';
import { type Login, login, refresh, register, report, request } from './http.js';
import { type FaultPostgres, faultPostgres, pollUntil, summary } from './servers.js';

const MAX_QUEUE = 5;
const SESSIONS = 10;
/**
 * Redis answers in about a millisecond; an audit write waiting on the frozen server would take the
 * 2 s deadline. Below that with room for a busy machine's stalls.
 */
const REQUEST_BUDGET_MS = 1_500;

describe('audit trail with PostgreSQL frozen', () => {
  const cleanup = new CleanupStack();
  let pg: FaultPostgres;
  let app: TestInstance;
  let databaseUrl: string;

  beforeAll(async () => {
    pg = await faultPostgres(cleanup);
    const cluster = await testCluster({ database: { url: pg.url, connect_timeout: '2s' }, audit: { flush_interval: '50ms', max_queue: MAX_QUEUE } });
    databaseUrl = cluster.config.database.url as string;
    app = await cluster.start();
  });

  afterEach(() => pg.thaw());

  afterAll(async () => {
    await app?.stop();
    await cleanup.run();
  });

  it('keeps refresh and logout fast, drops the oldest events beyond max_queue, writes the rest after SIGCONT', async () => {
    const user = await register(app.url);
    const sessions: Login[] = [];
    for (let i = 0; i < SESSIONS; i += 1) sessions.push(await login(app.url, user));
    // Others to log out: a logout is recorded when it ends a live session.
    const others: Login[] = [];
    for (let i = 0; i < SESSIONS; i += 1) others.push(await login(app.url, user));
    await pollUntil(async () => app.deps.audit.stats().queued === 0, 5_000);
    const before = app.deps.audit.stats();

    pg.freeze();
    const latencies: number[] = [];
    // Each session: three refreshes (no event), then its first refresh token again (refresh_reused).
    for (const session of sessions) {
      let token = session.refreshToken;
      for (let i = 0; i < 3; i += 1) {
        const response = await refresh(app.url, token);
        expect(response.status).toBe(200);
        latencies.push(response.ms);
        token = response.body?.refresh_token as string;
      }
      const reused = await refresh(app.url, session.refreshToken);
      expect(reused.status).toBe(401);
      latencies.push(reused.ms);
    }
    for (const session of others) {
      const loggedOut = await request(app.url, 'POST', '/logout', { token: session.accessToken });
      expect(loggedOut.status).toBe(204);
      latencies.push(loggedOut.ms);
    }
    report(`refresh/logout with PostgreSQL frozen: ${summary(latencies)}`);
    expect(Math.max(...latencies)).toBeLessThan(REQUEST_BUDGET_MS);

    // 2 events per session (reuse, logout) into a queue of MAX_QUEUE: the oldest went. A write
    // waiting on the frozen server holds up to one more batch outside the queue.
    const recorded = 2 * SESSIONS;
    const frozen = app.deps.audit.stats();
    expect(frozen.written).toBe(before.written);
    expect(frozen.queued + (frozen.dropped - before.dropped)).toBe(recorded);
    expect(frozen.queued).toBeLessThanOrEqual(2 * MAX_QUEUE);
    expect(frozen.dropped - before.dropped).toBeGreaterThanOrEqual(recorded - 2 * MAX_QUEUE);

    pg.thaw();
    await pollUntil(async () => app.deps.audit.stats().queued === 0, 10_000);
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql<{ event: string }[]>`select event from auth_events where user_id = ${user.userId} and event in ('refresh_reused', 'logout')`;
      const written = app.deps.audit.stats().written - before.written;
      expect(written).toBeGreaterThanOrEqual(MAX_QUEUE);
      // At least once: a write that timed out while frozen may commit after SIGCONT and be written again.
      expect(rows.length).toBeGreaterThanOrEqual(written);
      // The newest events survived: the logouts came last.
      expect(rows.filter((row) => row.event === 'logout').length).toBeGreaterThanOrEqual(MAX_QUEUE);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
});
