/**
 * Issue 6, item 6: the audit trail. Events reach `auth_events` (PostgreSQL and PGlite) off the
 * request path, carry no secret, and an unreachable database costs events (counted), never requests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditRow, createAuditLog } from '../../src/audit/audit-log.js';
import { withRetention } from '../../src/audit/retention.js';
import { UnavailableError } from '../../src/errors.js';
import { migratePostgres } from '../../src/users/migrate.js';
import { createPgliteUserStore } from '../../src/users/pglite-user-store.js';
import { createPostgresUserStore } from '../../src/users/postgres-user-store.js';
import { freshDatabase } from '../helpers/services.js';
import { PASSWORD, call, registerUser, testCluster, uniqueEmail, type TestInstance } from '../helpers/test-app.js';
import { pollUntil } from '../faults/servers.js';

interface EventRow {
  event: string;
  user_id: string | null;
  session_id: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

const silent = pino({ level: 'silent' });
const USER_AGENT = `audit-test/1.0 ${'x'.repeat(400)}`;

describe('audit trail on PostgreSQL', () => {
  let app: TestInstance;
  let sql: postgres.Sql;

  beforeAll(async () => {
    const cluster = await testCluster({ audit: { flush_interval: '50ms' } });
    app = await cluster.start();
    sql = postgres(cluster.config.database.url as string, { max: 1, onnotice: () => {} });
  });

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
  });

  const eventsOf = (userId: string) =>
    sql<EventRow[]>`select event, user_id, session_id, ip, details from auth_events where user_id = ${userId} order by id`;

  it('records register, login, failed logins, refresh reuse, password changes (and refused ones), token revocation, logouts and logout-all', async () => {
    const headers = { 'user-agent': USER_AGENT };
    const user = await registerUser(app.url);
    const login = await call(app.url, 'POST', '/login', { body: { email: user.email, password: PASSWORD }, headers });
    expect(login.status).toBe(200);
    expect((await call(app.url, 'POST', '/login', { body: { email: user.email, password: 'wrong password here' }, headers })).status).toBe(401);
    const unknown = uniqueEmail();
    expect((await call(app.url, 'POST', '/login', { body: { email: unknown, password: PASSWORD }, headers })).status).toBe(401);

    // Two rotations, then the first token again: reuse, the family ends.
    const first = await call(app.url, 'POST', '/refresh', { body: { refresh_token: user.refreshToken } });
    const second = await call(app.url, 'POST', '/refresh', { body: { refresh_token: first.body?.refresh_token } });
    expect(second.status).toBe(200);
    expect((await call(app.url, 'POST', '/refresh', { body: { refresh_token: user.refreshToken }, headers: { 'user-agent': 'thief/1.0' } })).status).toBe(401);

    const loginTokens = login.body as Record<string, string>;
    const changed = await call(app.url, 'POST', '/password', {
      token: loginTokens.access_token,
      body: { current_password: PASSWORD, new_password: 'another horse battery staple' },
      headers,
    });
    expect(changed.status).toBe(200);
    const changedTokens = changed.body as Record<string, string>;
    const wrongCurrent = await call(app.url, 'POST', '/password', {
      token: changedTokens.access_token,
      body: { current_password: 'wrong password here', new_password: 'yet another horse battery' },
    });
    expect(wrongCurrent.status).toBe(401);
    const again = await call(app.url, 'POST', '/login', { body: { email: user.email, password: 'another horse battery staple' } });
    const againTokens = again.body as Record<string, string>;
    // Revoked twice: one event (a replayed revocation changes nothing).
    for (let i = 0; i < 2; i += 1) {
      const revoke = { body: { token: againTokens.access_token, token_type_hint: 'access_token' }, headers: { 'user-agent': 'revoker/1.0' } };
      expect((await call(app.url, 'POST', '/revoke', revoke)).status).toBe(200);
    }
    // Logged out three times with the access token, twice with the refresh token: one event each
    // (a replay ends nothing; anyone holding an old token could otherwise fill the trail).
    const byAccessToken = { token: changedTokens.access_token, headers: { 'user-agent': 'logout-access/1.0' } };
    for (let i = 0; i < 3; i += 1) expect((await call(app.url, 'POST', '/logout', byAccessToken)).status).toBe(204);
    const byRefreshToken = { body: { refresh_token: againTokens.refresh_token }, headers: { 'user-agent': 'logout-refresh/1.0' } };
    for (let i = 0; i < 2; i += 1) expect((await call(app.url, 'POST', '/logout', byRefreshToken)).status).toBe(204);
    const last = (await call(app.url, 'POST', '/login', { body: { email: user.email, password: 'another horse battery staple' } })).body as Record<string, string>;
    const other = (await call(app.url, 'POST', '/login', { body: { email: user.email, password: 'another horse battery staple' } })).body as Record<string, string>;
    const fromList = { token: last.access_token, headers: { 'user-agent': 'session-list/1.0' } };
    expect((await call(app.url, 'DELETE', `/sessions/${other.session_id}`, fromList)).status).toBe(204);
    expect((await call(app.url, 'POST', '/logout-all', { token: last.access_token, headers: { 'user-agent': 'logout-all/1.0' } })).status).toBe(204);

    const expected = ['register', 'login', 'login_failed', 'refresh_reused', 'password_changed', 'password_change_failed', 'login', 'token_revoked'];
    expected.push('logout', 'logout', 'login', 'login', 'logout', 'logout_all');
    let rows: EventRow[] = [];
    await pollUntil(async () => {
      rows = await eventsOf(user.userId);
      return rows.length >= expected.length;
    }, 5_000);
    expect(rows.map((row) => row.event)).toEqual(expected);

    const byEvent = (name: string) => rows.filter((row) => row.event === name);
    expect(byEvent('register')[0]).toMatchObject({ session_id: user.sessionId, ip: '127.0.0.1' });
    expect(byEvent('login')[0]).toMatchObject({ session_id: loginTokens.session_id, ip: '127.0.0.1' });
    expect(byEvent('login')[0]?.details.user_agent).toBe(USER_AGENT.slice(0, 256));
    expect(byEvent('login_failed')[0]?.details).toMatchObject({ reason: 'wrong_password' });
    // Who presented the reused token.
    expect(byEvent('refresh_reused')[0]).toMatchObject({ session_id: user.sessionId, ip: '127.0.0.1', details: { generation: 0, user_agent: 'thief/1.0' } });
    expect(byEvent('logout').map((row) => row.details.via)).toEqual(['access_token', 'refresh_token', 'session_list']);
    expect(byEvent('logout')[2]).toMatchObject({ session_id: other.session_id, details: { by_session: last.session_id } });
    expect(byEvent('password_change_failed')[0]).toMatchObject({ session_id: changedTokens.session_id, details: { reason: 'wrong_password' } });
    expect(byEvent('token_revoked')[0]).toMatchObject({ session_id: againTokens.session_id, details: { token_type: 'access_token' } });
    // Every ending names who asked for it: the client of its own request.
    const endings = [...byEvent('token_revoked'), ...byEvent('logout'), ...byEvent('logout_all')];
    expect(endings.map((row) => [row.ip, row.details.user_agent])).toEqual(
      ['revoker/1.0', 'logout-access/1.0', 'logout-refresh/1.0', 'session-list/1.0', 'logout-all/1.0'].map((agent) => ['127.0.0.1', agent]),
    );

    // A failed login for an unknown e-mail has no account, only its reason and client.
    const [anonymous] = await sql<EventRow[]>`
      select event, user_id, session_id, ip, details from auth_events
      where event = 'login_failed' and user_id is null and details->>'reason' = 'unknown_email'`;
    expect(anonymous).toMatchObject({ ip: '127.0.0.1', session_id: null });

    // No secret anywhere in the table: passwords, tokens, or any segment of a token.
    const everything = JSON.stringify(await sql`select * from auth_events`);
    const tokens = [user, loginTokens, changedTokens, againTokens, first.body as Record<string, string>].flatMap((set) =>
      Object.entries(set)
        .filter(([key]) => /token$/i.test(key) && !/type$/i.test(key))
        .map(([, value]) => String(value)),
    );
    expect(tokens.length).toBeGreaterThanOrEqual(8);
    const secrets = [PASSWORD, 'another horse battery staple', 'wrong password here', ...tokens, ...tokens.flatMap((token) => token.split('.').filter((part) => part.length >= 16))];
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});

describe('audit trail on PGlite', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'jwt-audit-pglite-'));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('is migrated, and what is queued at shutdown is written on close', async () => {
    // A flush interval far beyond the test: only the close can write the events.
    const cluster = await testCluster({ audit: { flush_interval: '1h' } }, { embedded: true, dataDir });
    const app = await cluster.start();
    const user = await registerUser(app.url);
    expect((await call(app.url, 'POST', '/logout', { token: user.accessToken })).status).toBe(204);
    expect(app.deps.audit.stats()).toMatchObject({ queued: 2, written: 0 });
    await app.stop();

    const db = await PGlite.create(dataDir);
    try {
      const { rows } = await db.query<EventRow>('select event, user_id, session_id from auth_events order by id');
      expect(rows).toEqual([
        { event: 'register', user_id: user.userId, session_id: user.sessionId },
        { event: 'logout', user_id: user.userId, session_id: user.sessionId },
      ]);
    } finally {
      await db.close();
    }
    // PGlite's first start (initdb in WASM) alone can take over 10 s on a busy machine.
  }, 60_000);
});

describe('audit writer with the database down', () => {
  it('never blocks or throws, keeps the newest events up to max_queue and counts the dropped ones', async () => {
    // Nothing listens on port 1: every write fails with a refused connection.
    const store = createPostgresUserStore({ url: 'postgres://postgres@127.0.0.1:1/none', poolSize: 1, connectTimeoutMs: 500 });
    const audit = createAuditLog({ insertBatch: store.insertAuditEvents, logger: silent, maxQueue: 100, flushMs: 20, closeTimeoutMs: 1000 });
    try {
      const started = performance.now();
      for (let i = 0; i < 10_000; i += 1) audit.record({ event: 'login_failed', details: { attempt: i } });
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(audit.stats()).toMatchObject({ queued: 100, dropped: 9_900, written: 0 });

      await audit.flush();
      await audit.flush();
      expect(audit.stats()).toMatchObject({ queued: 100, dropped: 9_900, written: 0 });
    } finally {
      const closing = performance.now();
      await audit.close();
      // closeTimeoutMs bounds it; the slack is for a busy machine.
      expect(performance.now() - closing).toBeLessThan(5_000);
      await store.close();
    }
    // Events after close are not queued, only counted.
    audit.record({ event: 'logout' });
    expect(audit.stats()).toMatchObject({ queued: 100, dropped: 9_901 });
  });

  it('a batch refused, then written row by row until the database goes: only the rows not yet written are retried', async () => {
    const url = await freshDatabase();
    await migratePostgres(url);
    const store = createPostgresUserStore({ url, poolSize: 1, connectTimeoutMs: 2_000 });
    let rowByRow = 0;
    const audit = createAuditLog({
      insertBatch: async (rows) => {
        // The batch stands for one with a row the database refuses; the second single-row insert
        // meets the database gone for a moment.
        if (rows.length > 1) throw new Error('refused: a bad row in the batch');
        rowByRow += 1;
        if (rowByRow === 2) throw new UnavailableError('database', new Error('connection lost'));
        return store.insertAuditEvents(rows);
      },
      logger: silent,
      flushMs: 20,
      maxBackoffMs: 50,
    });
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      for (let i = 0; i < 3; i += 1) audit.record({ event: 'login_failed', details: { attempt: i } });
      await pollUntil(async () => audit.stats().written === 3, 5_000);
      const rows = await sql<{ attempt: string }[]>`select details->>'attempt' as attempt from auth_events order by id`;
      // Before: the whole batch went back, and the first row was written twice.
      expect(rows.map((row) => row.attempt)).toEqual(['0', '1', '2']);
      expect(audit.stats()).toMatchObject({ written: 3, rejected: 0, dropped: 0, queued: 0 });
    } finally {
      await audit.close();
      await Promise.all([sql.end({ timeout: 5 }), store.close()]);
    }
  });

  it('keeps events for a retry while the database is read-only (a standby before failover), never drops them as refused', async () => {
    const readOnlyUrl = await freshDatabase();
    await migratePostgres(readOnlyUrl);
    const admin = postgres(readOnlyUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`alter database "${new URL(readOnlyUrl).pathname.slice(1)}" set default_transaction_read_only = on`);
    await admin.end({ timeout: 5 });
    const url = await freshDatabase();
    await migratePostgres(url);
    const readOnly = createPostgresUserStore({ url: readOnlyUrl, poolSize: 1, connectTimeoutMs: 2_000 });
    const store = createPostgresUserStore({ url, poolSize: 1, connectTimeoutMs: 2_000 });
    let writable = false;
    const audit = createAuditLog({ insertBatch: (rows) => (writable ? store : readOnly).insertAuditEvents(rows), logger: silent, flushMs: 20, maxBackoffMs: 50 });
    try {
      for (let i = 0; i < 3; i += 1) audit.record({ event: 'login_failed', details: { attempt: i } });
      await audit.flush();
      expect(audit.stats()).toMatchObject({ queued: 3, written: 0, rejected: 0, dropped: 0 });
      writable = true;
      await pollUntil(async () => audit.stats().written === 3, 5_000);
      expect(audit.stats()).toMatchObject({ rejected: 0, dropped: 0 });
    } finally {
      await audit.close();
      await Promise.all([store.close(), readOnly.close()]);
    }
  });

  it('writes the newest events, oldest first, once the database answers again', async () => {
    const url = await freshDatabase();
    await migratePostgres(url);
    // The real database behind a writer that fails until `up` flips: the same rows, delivered late.
    const store = createPostgresUserStore({ url, poolSize: 1, connectTimeoutMs: 500 });
    const down = createPostgresUserStore({ url: 'postgres://postgres@127.0.0.1:1/none', poolSize: 1, connectTimeoutMs: 500 });
    let up = false;
    const audit = createAuditLog({
      insertBatch: (rows) => (up ? store : down).insertAuditEvents(rows),
      logger: silent,
      maxQueue: 5,
      flushMs: 20,
      maxBackoffMs: 50,
    });
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      for (let i = 0; i < 8; i += 1) audit.record({ event: 'login_failed', details: { attempt: i } });
      await audit.flush();
      expect(audit.stats()).toMatchObject({ queued: 5, dropped: 3 });
      up = true;
      await pollUntil(async () => audit.stats().written === 5, 5_000);
      const rows = await sql<{ attempt: string }[]>`select details->>'attempt' as attempt from auth_events order by id`;
      expect(rows.map((row) => Number(row.attempt))).toEqual([3, 4, 5, 6, 7]);
    } finally {
      await audit.close();
      await Promise.all([store.close(), down.close(), sql.end({ timeout: 5 })]);
    }
  });
});

describe('audit retention (audit.retention)', () => {
  const DAY_MS = 24 * 3_600_000;
  /** `old` events from 100 days ago and `recent` ones from now, by id order. */
  const rows = (old: number, recent: number): AuditRow[] => [
    ...Array.from({ length: old }, (_, i) => ({ occurredAt: new Date(Date.now() - 100 * DAY_MS + i), event: 'login_failed', userId: null, sessionId: null, ip: null, details: { old: i } })),
    ...Array.from({ length: recent }, (_, i) => ({ occurredAt: new Date(), event: 'login_failed', userId: null, sessionId: null, ip: null, details: { recent: i } })),
  ];
  const cutoff = () => new Date(Date.now() - 90 * DAY_MS);

  it('removes the oldest events from before the cutoff, a batch at a time, on PostgreSQL and PGlite', async () => {
    const url = await freshDatabase();
    await migratePostgres(url);
    const dataDir = await mkdtemp(join(tmpdir(), 'jwt-audit-retention-'));
    const stores = [createPostgresUserStore({ url, poolSize: 2, connectTimeoutMs: 2_000 }), await createPgliteUserStore({ dataDir, warn: () => {} })];
    try {
      for (const store of stores) {
        await store.insertAuditEvents(rows(5, 2));
        const removed = [];
        for (let round = 0; round < 4; round += 1) removed.push(await store.pruneAuditEvents(cutoff(), 2));
        expect(removed).toEqual([2, 2, 1, 0]);
        expect(await store.pruneAuditEvents(new Date(), 10)).toBe(2); // the recent ones were left
      }
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('is on in the service: an instance removes what is older than audit.retention', async () => {
    // The first run comes a second after the start (the next ones every quarter of the retention).
    const cluster = await testCluster({ audit: { retention: '1h', flush_interval: '50ms' } });
    const sql = postgres(cluster.config.database.url as string, { max: 1, onnotice: () => {} });
    await migratePostgres(cluster.config.database.url as string);
    await sql`insert into auth_events (occurred_at, event, details) values (now() - interval '2 hours', 'login_failed', '{"kept": false}'), (now() - interval '5 minutes', 'login_failed', '{"kept": true}')`;
    const app = await cluster.start();
    try {
      const left = async () => (await sql<{ details: Record<string, unknown> }[]>`select details from auth_events where event = 'login_failed' order by id`).map((row) => row.details);
      await expect.poll(left, { timeout: 5_000 }).toEqual([{ kept: true }]);
    } finally {
      await app.stop();
      await sql.end({ timeout: 5 });
    }
  });

  it('runs in the background beside the trail: old events go, recent ones stay, the trail still writes', async () => {
    const url = await freshDatabase();
    await migratePostgres(url);
    const store = createPostgresUserStore({ url, poolSize: 2, connectTimeoutMs: 2_000 });
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    const audit = withRetention(createAuditLog({ insertBatch: store.insertAuditEvents, logger: silent, flushMs: 20 }), {
      prune: store.pruneAuditEvents,
      retentionMs: 90 * DAY_MS,
      logger: silent,
      everyMs: 20,
      batch: 3,
    });
    try {
      await store.insertAuditEvents(rows(10, 1));
      audit.record({ event: 'login_failed', details: { queued: true } });
      const left = async () => (await sql<{ details: Record<string, unknown> }[]>`select details from auth_events order by id`).map((row) => row.details);
      await expect.poll(left, { timeout: 5_000 }).toEqual([{ recent: 0 }, { queued: true }]);
    } finally {
      await audit.close();
      await Promise.all([store.close(), sql.end({ timeout: 5 })]);
    }
  });
});
