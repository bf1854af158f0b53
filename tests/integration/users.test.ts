import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { UnavailableError } from '../../src/errors.js';
import { migratePostgres, migrationsFolder } from '../../src/users/migrate.js';
import { createPgliteUserStore } from '../../src/users/pglite-user-store.js';
import { createPostgresUserStore } from '../../src/users/postgres-user-store.js';
import { lateWrite } from '../../src/users/query-deadline.js';
import type { UserStore } from '../../src/users/user-store.js';
import { freshDatabase } from '../helpers/services.js';
import { relayTo } from '../helpers/tcp-relay.js';

interface StoreUnderTest {
  store: UserStore;
  dispose(): Promise<void>;
}

let counter = 0;
const uniqueEmail = (): string => `user${++counter}.${Date.now()}@example.com`;
const missingId = '00000000-0000-4000-8000-000000000000';

/** The behaviour every `UserStore` must show, run against each implementation. */
function userStoreContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`UserStore contract: ${name}`, () => {
    let subject: StoreUnderTest;
    const store = (): UserStore => subject.store;

    beforeAll(async () => {
      subject = await open();
    });
    afterAll(async () => {
      await subject?.dispose();
    });

    it('creates a user with a generated id, default roles and timestamps', async () => {
      const user = await store().create({ email: '  New.User@Example.COM ', passwordHash: 'hash-1' });
      expect(user).toMatchObject({ email: 'new.user@example.com', passwordHash: 'hash-1', roles: ['user'], disabledAt: null });
      expect(user?.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(user?.createdAt).toBeInstanceOf(Date);
      expect(user?.updatedAt).toBeInstanceOf(Date);
    });

    it('stores the roles it is given', async () => {
      const user = await store().create({ email: uniqueEmail(), passwordHash: 'h', roles: ['user', 'admin'] });
      expect(user?.roles).toEqual(['user', 'admin']);
    });

    it('returns null for an e-mail already taken, whatever its case', async () => {
      const email = uniqueEmail();
      expect(await store().create({ email, passwordHash: 'h' })).not.toBeNull();
      expect(await store().create({ email: email.toUpperCase(), passwordHash: 'h2' })).toBeNull();
      expect(await store().create({ email: ` ${email} `, passwordHash: 'h3' })).toBeNull();
      expect((await store().findByEmail(email))?.passwordHash).toBe('h');
    });

    it('lets only one of many concurrent sign-ups with the same e-mail win', async () => {
      const email = uniqueEmail();
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) => store().create({ email, passwordHash: `h${i}` })),
      );
      expect(results.filter((user) => user !== null)).toHaveLength(1);
    });

    it('finds users by normalised e-mail and by id', async () => {
      const email = uniqueEmail();
      const created = await store().create({ email, passwordHash: 'h' });
      expect(await store().findByEmail(`  ${email.toUpperCase()}`)).toEqual(created);
      expect(await store().findById(created?.id ?? '')).toEqual(created);
      expect(await store().findByEmail('nobody@example.com')).toBeNull();
      expect(await store().findById(missingId)).toBeNull();
    });

    it('answers null or false for ids that are not UUIDs instead of throwing', async () => {
      for (const bad of ['', 'not-a-uuid', '1', "'; drop table users; --", `${missingId}0`]) {
        expect(await store().findById(bad)).toBeNull();
        expect(await store().setRoles(bad, ['admin'])).toBe(false);
        expect(await store().setDisabled(bad, true)).toBe(false);
        expect(await store().setPasswordHash(bad, 'h')).toBe(false);
      }
    });

    it('replaces the password hash and bumps updated_at', async () => {
      const user = await store().create({ email: uniqueEmail(), passwordHash: 'old' });
      const id = user?.id ?? '';
      await sleep(5);
      expect(await store().setPasswordHash(id, 'new')).toBe(true);
      const updated = await store().findById(id);
      expect(updated?.passwordHash).toBe('new');
      expect(updated?.updatedAt.getTime()).toBeGreaterThan(user?.updatedAt.getTime() ?? Infinity);
      expect(updated?.createdAt).toEqual(user?.createdAt);
    });

    it('replaces the password hash only over the expected one when given (a rehash never undoes a change)', async () => {
      const user = await store().create({ email: uniqueEmail(), passwordHash: 'old' });
      const id = user?.id ?? '';
      expect(await store().setPasswordHash(id, 'changed', 'old')).toBe(true);
      expect(await store().setPasswordHash(id, 'rehashed old', 'old')).toBe(false);
      expect((await store().findById(id))?.passwordHash).toBe('changed');
    });

    it('replaces roles and bumps updated_at', async () => {
      const user = await store().create({ email: uniqueEmail(), passwordHash: 'h' });
      const id = user?.id ?? '';
      await sleep(5);
      expect(await store().setRoles(id, ['admin', 'auditor'])).toBe(true);
      const updated = await store().findById(id);
      expect(updated?.roles).toEqual(['admin', 'auditor']);
      expect(updated?.updatedAt.getTime()).toBeGreaterThan(user?.updatedAt.getTime() ?? Infinity);
      expect(await store().setRoles(id, [])).toBe(true);
      expect((await store().findById(id))?.roles).toEqual([]);
    });

    it('disables and re-enables a user, keeping the first disable time', async () => {
      const user = await store().create({ email: uniqueEmail(), passwordHash: 'h' });
      const id = user?.id ?? '';
      await sleep(5);
      expect(await store().setDisabled(id, true)).toBe(true);
      const disabled = await store().findById(id);
      expect(disabled?.disabledAt).toBeInstanceOf(Date);
      expect(disabled?.updatedAt.getTime()).toBeGreaterThan(user?.updatedAt.getTime() ?? Infinity);

      await sleep(5);
      expect(await store().setDisabled(id, true)).toBe(true);
      expect((await store().findById(id))?.disabledAt).toEqual(disabled?.disabledAt);

      expect(await store().setDisabled(id, false)).toBe(true);
      expect((await store().findById(id))?.disabledAt).toBeNull();
    });

    it('deletes a user, frees the e-mail, and answers false for a missing or malformed id', async () => {
      const email = uniqueEmail();
      const user = await store().create({ email, passwordHash: 'h' });
      const id = user?.id ?? '';
      expect(await store().delete(id)).toBe(true);
      expect(await store().findById(id)).toBeNull();
      expect(await store().delete(id)).toBe(false);
      expect(await store().delete('not-a-uuid')).toBe(false);
      expect(await store().create({ email, passwordHash: 'h' })).not.toBeNull();
    });

    it('changes as a user only while that user is enabled and holds the role; concurrent changes go one after the other', async () => {
      const made = await Promise.all([0, 1, 2].map(() => store().create({ email: uniqueEmail(), passwordHash: 'h', roles: ['admin'] })));
      const [a, b, target] = made.map((user) => user?.id ?? '') as [string, string, string];
      const as = (userId: string) => ({ userId, role: 'admin' });
      expect(await store().changeAs(as(a), target, { roles: ['editor'] })).toBe('changed');
      expect((await store().findById(target))?.roles).toEqual(['editor']);
      expect(await store().changeAs(as(a), target, { disabled: true })).toBe('changed');
      expect((await store().findById(target))?.disabledAt).toBeInstanceOf(Date);
      expect(await store().changeAs(as(a), missingId, { disabled: true })).toBe('not_found');
      expect(await store().changeAs(as(a), 'not-a-uuid', { disabled: true })).toBe('not_found');
      // A user without the role, disabled, unknown or malformed changes nothing.
      for (const by of [as(target), { userId: a, role: 'auditor' }, as(missingId), as('not-a-uuid')]) {
        expect(await store().changeAs(by, b, { roles: [] }), JSON.stringify(by)).toBe('refused');
      }
      expect((await store().findById(b))?.roles).toEqual(['admin']);
      // Each takes the role from the other at once: exactly one still held it when its turn came.
      const outcomes = await Promise.all([store().changeAs(as(a), b, { roles: [] }), store().changeAs(as(b), a, { roles: [] })]);
      expect([...outcomes].sort()).toEqual(['changed', 'refused']);
      const roles = await Promise.all([a, b].map(async (id) => (await store().findById(id))?.roles));
      expect(roles.filter((held) => held?.includes('admin'))).toHaveLength(1);
    });

    it('returns false when updating a user that does not exist', async () => {
      expect(await store().setPasswordHash(missingId, 'h')).toBe(false);
      expect(await store().setRoles(missingId, ['user'])).toBe(false);
      expect(await store().setDisabled(missingId, true)).toBe(false);
    });

    it('answers a ping', async () => {
      await expect(store().ping()).resolves.toBeUndefined();
    });
  });
}

userStoreContract('PostgreSQL', async () => {
  const url = await freshDatabase();
  await migratePostgres(url);
  const store = createPostgresUserStore({ url, poolSize: 4, connectTimeoutMs: 2000 });
  return { store, dispose: () => store.close() };
});

userStoreContract('PGlite', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'users-pglite-'));
  const store = await createPgliteUserStore({ dataDir });
  return {
    store,
    dispose: async () => {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});

describe('PostgreSQL migrations', () => {
  it('lets replicas starting at once migrate without racing', async () => {
    const url = await freshDatabase();
    await expect(Promise.all(Array.from({ length: 5 }, () => migratePostgres(url)))).resolves.toHaveLength(5);

    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const tables = await sql`select count(*)::int as n from pg_tables where schemaname = 'public' and tablename = 'users'`;
      expect(tables[0]?.['n']).toBe(1);
      const applied = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
      const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta/_journal.json'), 'utf8')) as { entries: unknown[] };
      expect(applied[0]?.['n']).toBe(journal.entries.length);
    } finally {
      await sql.end({ timeout: 5 });
    }
    await expect(migratePostgres(url)).resolves.toBeUndefined();
  });

  it('waits for a migration lock held elsewhere, says so, and gives up with UnavailableError (never hangs)', async () => {
    const url = await freshDatabase();
    const holder = postgres(url, { max: 1, onnotice: () => {} });
    const logged: string[] = [];
    try {
      await holder`select pg_advisory_lock(7382915046201873451::bigint)`;
      const started = performance.now();
      const error = await migratePostgres(url, { log: (line) => logged.push(line), lockWaitMs: 1200 }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UnavailableError);
      expect(String((error as Error).cause)).toContain('migration lock');
      expect(performance.now() - started).toBeGreaterThanOrEqual(1200);
      expect(logged).toEqual(['waiting for another replica to finish the database migrations']);
      await holder`select pg_advisory_unlock(7382915046201873451::bigint)`;
      await expect(migratePostgres(url, { lockWaitMs: 1200 })).resolves.toBeUndefined();
    } finally {
      await holder.end({ timeout: 5 });
    }
  });

  it('reports an unreachable server as UnavailableError', async () => {
    await expect(migratePostgres('postgres://postgres@127.0.0.1:1/none')).rejects.toBeInstanceOf(UnavailableError);
  });
});

describe('PostgreSQL at an IPv6 address', () => {
  it('a database.url naming the server [::1] is taken, migrated and queried', async (context) => {
    // The test server listens on 127.0.0.1 alone: it is reached through a relay on ::1.
    const relay = await relayTo(await freshDatabase(), context, '::1').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRNOTAVAIL' || error.code === 'EAFNOSUPPORT') context.skip('this machine has no IPv6 loopback');
      throw error;
    });
    const url = configSchema.parse({ database: { url: relay.url } }).database.url ?? '';
    expect(url).toContain('@[::1]:');
    await migratePostgres(url);
    const store = createPostgresUserStore({ url, poolSize: 2, connectTimeoutMs: 2000 });
    context.onTestFinished(() => store.close());
    const email = uniqueEmail();
    const created = await store.create({ email, passwordHash: 'h' });
    expect(await store.findByEmail(email)).toMatchObject({ id: created?.id, email });
  });
});

describe('PostgreSQL user store failures', () => {
  it('throws UnavailableError when the server cannot be reached', async () => {
    const store = createPostgresUserStore({ url: 'postgres://postgres@127.0.0.1:1/none', poolSize: 1, connectTimeoutMs: 500 });
    try {
      await expect(store.findByEmail('a@example.com')).rejects.toBeInstanceOf(UnavailableError);
      await expect(store.create({ email: 'a@example.com', passwordHash: 'h' })).rejects.toBeInstanceOf(UnavailableError);
      await expect(store.ping()).rejects.toBeInstanceOf(UnavailableError);
    } finally {
      await store.close();
    }
  });

  it('throws UnavailableError when TLS cannot be set up (the url asks for it, the server has it off), as for any outage', async () => {
    const store = createPostgresUserStore({ url: `${await freshDatabase()}?sslmode=require`, poolSize: 1, connectTimeoutMs: 2000 });
    try {
      await expect(store.findByEmail('a@example.com')).rejects.toBeInstanceOf(UnavailableError);
      await expect(store.ping()).rejects.toBeInstanceOf(UnavailableError);
    } finally {
      await store.close();
    }
  });
});

/**
 * A transaction on `holder` that takes a lock (`take`) and keeps it `ms`. Resolves once it holds
 * the lock, however long a busy machine took to connect and take it (or once it failed to), with
 * `released`: the transaction's end.
 */
async function holdLock(holder: postgres.Sql, take: (tx: postgres.TransactionSql) => Promise<unknown>, ms: number): Promise<{ released: Promise<unknown> }> {
  let locked!: () => void;
  const held = new Promise<void>((resolve) => (locked = resolve));
  const released = holder.begin(async (tx) => {
    await take(tx);
    locked();
    await sleep(ms);
  });
  await Promise.race([held, released]);
  return { released };
}

/** A PostgreSQL store on a fresh database whose queries get `deadlineMs`, and a second client to hold locks; both closed after `body`. */
async function withLockHolder(deadlineMs: number, body: (store: UserStore, holder: postgres.Sql) => Promise<void>): Promise<void> {
  const url = await freshDatabase();
  await migratePostgres(url);
  const store = createPostgresUserStore({ url, poolSize: 2, connectTimeoutMs: deadlineMs });
  const holder = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await body(store, holder);
  } finally {
    await holder.end({ timeout: 5 });
    await store.close();
  }
}

describe('PostgreSQL user store: an admin change held up past its deadline', () => {
  it('answers UnavailableError and is rolled back, never committed after the caller gave up', async () => {
    await withLockHolder(800, async (store, holder) => {
      const [actor, target] = await Promise.all([0, 1].map(() => store.create({ email: uniqueEmail(), passwordHash: 'h', roles: ['admin'] })));
      // Another change's transaction holds the lock for longer than the store waits.
      const { released } = await holdLock(holder, (tx) => tx`select pg_advisory_xact_lock(${0x6a777461})`, 1500);
      const outcome = await store.changeAs({ userId: actor?.id ?? '', role: 'admin' }, target?.id ?? '', { disabled: true }).catch((error: unknown) => error);
      expect(outcome).toBeInstanceOf(UnavailableError);
      await released;
      // Until no transaction of the store's is open or running: a commit, had one come, is in.
      const busy = async () => Number((await holder`select count(*) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and state <> 'idle'`)[0]?.['count']);
      await expect.poll(busy, { timeout: 5_000 }).toBe(0);
      expect((await store.findById(target?.id ?? ''))?.disabledAt).toBeNull();
    });
  });
});

describe('PostgreSQL user store: a write held up past its deadline without a bound of its own', () => {
  it('answers UnavailableError at the deadline, lands once the row is free, and lateWrite resolves with its answer (true)', async () => {
    await withLockHolder(400, async (store, holder) => {
      const target = await store.create({ email: uniqueEmail(), passwordHash: 'h' });
      // Another transaction holds the row for longer than the store waits (a pool queue behaves alike).
      await holdLock(holder, (tx) => tx`select id from users where id = ${target?.id ?? ''} for update`, 1200);
      const error = await store.setRoles(target?.id ?? '', ['auditor']).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UnavailableError);
      const landing = lateWrite(error);
      expect(landing).toBeInstanceOf(Promise);
      // The late answer is the store's own (changed: true), not the driver's rows.
      expect(await landing).toBe(true);
      expect((await store.findById(target?.id ?? ''))?.roles).toEqual(['auditor']);
    });
  });
});

describe('PostgreSQL user store: the driver\'s own bounds, set in database.url', () => {
  it('a query that found no free connection within ?queue_timeout answers UnavailableError, never sent (no late write)', async () => {
    const url = await freshDatabase();
    await migratePostgres(url);
    // The users made on a store with no bound of the driver's: 0.1 s would count a cold pool's connecting too.
    const plain = createPostgresUserStore({ url, poolSize: 1, connectTimeoutMs: 4000 });
    const [actor, target] = await Promise.all([0, 1].map(() => plain.create({ email: uniqueEmail(), passwordHash: 'h', roles: ['admin'] })));
    await plain.close();
    // Its one connection opened first (a try may time out while it opens), so that only the lease below holds it up.
    const store = createPostgresUserStore({ url: `${url}?queue_timeout=0.1`, poolSize: 1, connectTimeoutMs: 12_000 });
    const holder = postgres(url, { max: 1, onnotice: () => {} });
    const watcher = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await expect.poll(() => store.ping().then(() => true, () => false), { timeout: 10_000 }).toBe(true);
      const { released } = await holdLock(holder, (tx) => tx`select pg_advisory_xact_lock(${0x6a777461})`, 5000);
      // The store's one connection, leased by a change that waits for that lock (a quarter of its deadline: 3 s).
      const change = store.changeAs({ userId: actor?.id ?? '', role: 'admin' }, target?.id ?? '', { disabled: true }).catch((error: unknown) => error);
      const waiting = async () => (await watcher`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()`)[0]?.['n'];
      await expect.poll(waiting, { interval: 20, timeout: 2_500 }).toBe(1);
      const error = await store.findById(target?.id ?? '').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UnavailableError);
      // drizzle's error, and the driver's under it.
      expect(((error as Error).cause as Error).cause).toMatchObject({ code: 'QUEUE_TIMEOUT', message: expect.stringContaining('Waited more than 0.1 seconds for a connection') });
      expect(lateWrite(error)).toBeUndefined();
      expect(await change).toBeInstanceOf(UnavailableError);
      await released;
    } finally {
      await Promise.all([holder.end({ timeout: 5 }), watcher.end({ timeout: 5 }), store.close()]);
    }
  }, 30_000);
});

describe('PGlite user store', () => {
  it('keeps its data directory to its owner (PGlite writes its files readable by everyone): made 0700, an open one of its own closed, the working directory only warned about', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'users-pglite-'));
    const cwd = process.cwd();
    try {
      const fresh = join(parent, 'fresh');
      const existing = join(parent, 'existing');
      const working = join(parent, 'working');
      for (const dir of [existing, working]) {
        await mkdir(dir);
        await chmod(dir, 0o755);
      }
      const warnings: string[] = [];
      for (const dataDir of [fresh, existing]) {
        const store = await createPgliteUserStore({ dataDir, warn: (message) => warnings.push(message) });
        await store.close();
      }
      process.chdir(working);
      const store = await createPgliteUserStore({ dataDir: '.', warn: (message) => warnings.push(message) });
      await store.close();
      process.chdir(cwd);
      expect((await stat(fresh)).mode & 0o777).toBe(0o700);
      expect((await stat(existing)).mode & 0o777).toBe(0o700);
      expect((await stat(working)).mode & 0o777).toBe(0o755);
      expect(warnings).toEqual([expect.stringContaining('database.data_dir . is open to other users (mode 755)')]);
    } finally {
      process.chdir(cwd);
      await rm(parent, { recursive: true, force: true });
    }
    // Three fresh PGlite databases, each migrated: ~2 s apiece alone, past 20 s on a busy machine (seen once).
  }, 60_000);

  it('persists users in its data directory across restarts', async () => {
    const dataDir = join(await mkdtemp(join(tmpdir(), 'users-pglite-')), 'nested', 'dir');
    try {
      const first = await createPgliteUserStore({ dataDir });
      const user = await first.create({ email: 'kept@example.com', passwordHash: 'h' });
      await first.close();

      const second = await createPgliteUserStore({ dataDir });
      try {
        expect(await second.findByEmail('kept@example.com')).toEqual(user);
      } finally {
        await second.close();
      }
    } finally {
      await rm(join(dataDir, '..', '..'), { recursive: true, force: true });
    }
  });
});
