import { hash } from '@node-rs/argon2';
import postgres from 'postgres';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { disableUser, setUserRoles } from '../../src/admin/users.js';
import type { AuthEvent } from '../../src/audit/events.js';
import { OverloadedError, UnavailableError } from '../../src/errors.js';
import { argon2Options, type PasswordHasher } from '../../src/passwords/hasher.js';
import { landingLate } from '../helpers/late-write.js';
import { call, PASSWORD, registerUser, testCluster, type TestInstance } from '../helpers/test-app.js';

const NEW_PASSWORD = 'a brand new passphrase';
const OTHER_PASSWORD = 'another new passphrase';

/**
 * A password change racing a login or another password change of the same user: whatever the
 * interleaving, once a password change has answered, no session it ended — nor one begun with
 * the old password before it — is live anywhere. Each race is forced at its worst moment with
 * the real hasher and user store, wrapped once to pause there.
 */
describe('password change races (redis + postgres, two instances)', () => {
  let one: TestInstance;
  let two: TestInstance;
  /** An admin acting through the API's use cases (an admin's change is made only while they are one). */
  let admin: { userId: string };

  beforeAll(async () => {
    const cluster = await testCluster();
    one = await cluster.start();
    two = await cluster.start();
    admin = await registerUser(one.url);
    await one.deps.users.setRoles(admin.userId, ['admin']);
  });

  const login = (email: string, password = PASSWORD) => call(one.url, 'POST', '/login', { body: { email, password } });
  const changePassword = (token: string, newPassword: string) =>
    call(one.url, 'POST', '/password', { token, body: { current_password: PASSWORD, new_password: newPassword } });
  const authenticate = (token: string) => call(two.url, 'GET', '/authenticate', { token });
  const refresh = (token: string) => call(two.url, 'POST', '/refresh', { body: { refresh_token: token } });

  /** Wraps the next `hasher.match` (only the next; a login's or `/password`'s check): the check completes, then `during` runs before it answers. */
  function afterNextPasswordCheck(during: () => Promise<unknown>) {
    const hasher: PasswordHasher = one.deps.hasher;
    const match = hasher.match;
    hasher.match = async (...args) => {
      hasher.match = match;
      const matched = await match(...args);
      await during();
      return matched;
    };
  }

  /** The password changes the audit trail records for `userId` from now on, in order (until the test ends). */
  function recordedFor(userId: string): AuthEvent[] {
    const recorded: AuthEvent[] = [];
    const { audit } = one.deps;
    const record = audit.record;
    audit.record = (event) => {
      if (event.userId === userId && event.event === 'password_changed') recorded.push(event);
      record(event);
    };
    onTestFinished(() => void (audit.record = record));
    return recorded;
  }

  /** Runs `during` once, just before `/password` writes the new hash (then the write proceeds). */
  function beforeNextPasswordWrite(during: () => Promise<unknown>) {
    const { users } = one.deps;
    const setPasswordHash = users.setPasswordHash;
    users.setPasswordHash = async (...args) => {
      users.setPasswordHash = setPasswordHash;
      await during();
      return setPasswordHash(...args);
    };
  }

  async function expectDead(tokens: { access_token?: unknown; refresh_token?: unknown }) {
    expect((await authenticate(tokens.access_token as string)).status).toBe(401);
    expect((await refresh(tokens.refresh_token as string)).status).toBe(401);
  }

  it('a login whose password check passed before the change is refused after it', async () => {
    const user = await registerUser(one.url);
    let changed: Awaited<ReturnType<typeof call>> | undefined;
    afterNextPasswordCheck(async () => {
      changed = await changePassword(user.accessToken, NEW_PASSWORD);
    });
    const raced = await login(user.email);
    expect(changed?.status).toBe(200);
    // The hash changed under it: a retry, which checks the password against the current hash (a
    // race, not an outage: the client is told why).
    expect(raced).toMatchObject({ status: 503, body: { error: 'unavailable', error_description: 'the account changed during login, retry' } });
    expect(raced.headers.get('retry-after')).toBe('1');
    expect(await login(user.email)).toMatchObject({ status: 401, body: { error: 'invalid_credentials' } });
    const sessions = await call(one.url, 'GET', '/sessions', { token: changed?.body?.access_token as string });
    expect((sessions.body?.sessions as { id: string }[]).map((s) => s.id)).toEqual([user.sessionId]);
  });

  it('a login whose hash another login upgraded meanwhile (its own upgrade refused for load) is 503, then logs in: the right password is never a 401', async () => {
    const email = `upgrade${Date.now()}@example.test`;
    const weakHash = await hash(PASSWORD, { ...argon2Options, memoryCost: 4096 });
    expect(await one.deps.users.create({ email, passwordHash: weakHash })).not.toBeNull();
    const { hasher } = one.deps;
    const hashIn = hasher.hash;
    afterNextPasswordCheck(async () => {
      // Another login of the same password upgrades the hash first…
      expect((await login(email)).status).toBe(200);
      expect((await one.deps.users.findByEmail(email))?.passwordHash).not.toBe(weakHash);
      // …and this one's upgrade finds the argon2 queue full (it is skipped, for a later login).
      hasher.hash = () => Promise.reject(new OverloadedError('full'));
    });
    let raced: Awaited<ReturnType<typeof login>>;
    try {
      raced = await login(email);
    } finally {
      hasher.hash = hashIn;
    }
    expect(raced).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    expect((await login(email)).status).toBe(200);
  });

  it('a login that completed between the change ending sessions and writing the password still ends', async () => {
    const user = await registerUser(one.url);
    // The login pauses after its password check; the change pauses just before writing the new
    // hash and lets the login finish there (session created, account re-read: still the old hash).
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let checked!: () => void;
    const loginChecked = new Promise<void>((resolve) => (checked = resolve));
    afterNextPasswordCheck(async () => {
      checked();
      await released;
    });
    const raced = login(user.email);
    await loginChecked;
    let loginAnswer: Awaited<ReturnType<typeof call>> | undefined;
    beforeNextPasswordWrite(async () => {
      release();
      loginAnswer = await raced;
    });
    const changed = await changePassword(user.accessToken, NEW_PASSWORD);
    expect(changed.status).toBe(200);
    expect(loginAnswer?.status).toBe(200);
    await expectDead(loginAnswer?.body ?? {});
    expect((await authenticate(changed.body?.access_token as string)).status).toBe(200);
  });

  it('a change whose end of the other sessions fails after its write ends every session, a login of the old password included', async () => {
    const user = await registerUser(one.url);
    // A login of the old password completes after the change's first end, before its write.
    let raced: Awaited<ReturnType<typeof call>> | undefined;
    beforeNextPasswordWrite(async () => {
      raced = await login(user.email);
    });
    const { sessions } = one.deps;
    const endOthers = sessions.endOthers;
    sessions.endOthers = async () => {
      sessions.endOthers = endOthers;
      throw new UnavailableError('session store', new Error('injected: Redis failed after the password write'));
    };
    const changed = await changePassword(user.accessToken, NEW_PASSWORD);
    expect(changed).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    expect(changed.body?.error_description).toContain('log in with the new password');
    expect(raced?.status).toBe(200);
    // Before: the raced session and the caller's lived on, the raced one on the old password.
    await expectDead(raced?.body ?? {});
    await expectDead({ access_token: user.accessToken, refresh_token: user.refreshToken });
    expect((await login(user.email)).status).toBe(401);
    expect((await login(user.email, NEW_PASSWORD)).status).toBe(200);
  });

  it('a change whose write the database did not answer in time (it may still land) ends every session, and again once it lands: a login of the old password meanwhile included', async () => {
    const user = await registerUser(one.url);
    const recorded = recordedFor(user.userId);
    // The write waits (for a pool connection, say) past the store's deadline, then lands.
    const { land } = landingLate(one.deps.users, 'setPasswordHash');
    const changed = await changePassword(user.accessToken, NEW_PASSWORD);
    expect(changed).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    expect(changed.body?.error_description).toContain('log in with the new password (the old one if that is refused)');
    await expectDead({ access_token: user.accessToken, refresh_token: user.refreshToken });
    // Before the write lands the old password still logs in (on the other instance, say)…
    const raced = await call(two.url, 'POST', '/login', { body: { email: user.email, password: PASSWORD } });
    expect(raced.status).toBe(200);
    land();
    // …and that session ends once it has.
    await expect.poll(async () => (await authenticate(raced.body?.access_token as string)).status, { timeout: 5_000 }).toBe(401);
    expect((await refresh(raced.body?.refresh_token as string)).status).toBe(401);
    expect((await login(user.email, NEW_PASSWORD)).status).toBe(200);
    // The audit trail says the change's fate was unknown at its 503, then that it landed.
    expect(recorded.map((event) => event.details?.['written'])).toEqual(['unknown', 'late']);
  });

  it('a change whose connection is lost during its write (it may have committed) ends every session, a login of the old password meanwhile included', async () => {
    // An instance of its own whose database deadline cannot fire first: the 503 must come from the lost connection.
    const patient = await (await testCluster({ database: { connect_timeout: '60s' } })).start();
    onTestFinished(() => patient.stop());
    const user = await registerUser(patient.url);
    const sql = postgres(patient.deps.config.database.url as string, { max: 2, onnotice: () => {} });
    onTestFinished(() => sql.end({ timeout: 5 }));
    // Another transaction holds the user's row: the change's write waits for it, and is cut off there.
    const holder = await sql.reserve();
    onTestFinished(() => holder.release());
    await holder`begin`;
    await holder`select 1 from users where id = ${user.userId} for update`;
    const body = { current_password: PASSWORD, new_password: NEW_PASSWORD };
    const changing = call(patient.url, 'POST', '/password', { token: user.accessToken, body });
    const waiting = async () =>
      (await sql<{ pid: number }[]>`select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query ilike 'update "users"%'`)[0]?.pid;
    await expect.poll(waiting, { timeout: 5_000 }).toBeTypeOf('number');
    // A login of the old password meanwhile.
    const raced = await call(patient.url, 'POST', '/login', { body: { email: user.email, password: PASSWORD } });
    expect(raced.status).toBe(200);
    await sql`select pg_terminate_backend(${(await waiting()) as number})`;
    const changed = await changing;
    expect(changed).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    expect(changed.body?.error_description).toContain('log in with the new password (the old one if that is refused)');
    await holder`rollback`;
    // The write was lost, which its caller could not know: every session ended all the same.
    for (const tokens of [raced.body ?? {}, { access_token: user.accessToken, refresh_token: user.refreshToken }]) {
      expect((await call(patient.url, 'GET', '/authenticate', { token: tokens.access_token as string })).status).toBe(401);
      expect((await call(patient.url, 'POST', '/refresh', { body: { refresh_token: tokens.refresh_token } })).status).toBe(401);
    }
    expect((await call(patient.url, 'POST', '/login', { body: { email: user.email, password: PASSWORD } })).status).toBe(200);
  });

  it('a change whose own session ends before its write still sets the password and answers a live session', async () => {
    const user = await registerUser(one.url);
    // E.g. the caller's pre-change refresh token replayed: the rotate script ends its session.
    beforeNextPasswordWrite(() => one.deps.sessions.endSession(user.userId, user.sessionId));
    const changed = await changePassword(user.accessToken, NEW_PASSWORD);
    expect(changed.status).toBe(200);
    expect(changed.body?.session_id).not.toBe(user.sessionId);
    expect((await authenticate(changed.body?.access_token as string)).status).toBe(200);
    await expectDead({ access_token: user.accessToken, refresh_token: user.refreshToken });
    expect((await login(user.email, NEW_PASSWORD)).status).toBe(200);
  });

  it('a change that finds the password already changed by another is refused (retry) and changes nothing', async () => {
    const user = await registerUser(one.url);
    const { users, hasher } = one.deps;
    beforeNextPasswordWrite(async () => users.setPasswordHash(user.userId, await hasher.hash(OTHER_PASSWORD)));
    const late = await changePassword(user.accessToken, NEW_PASSWORD);
    expect(late).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    expect(late.headers.get('retry-after')).toBe('1');
    // The caller's tokens still work; the retry checks the current password again.
    expect((await authenticate(user.accessToken)).status).toBe(200);
    expect(await changePassword(user.accessToken, NEW_PASSWORD)).toMatchObject({ status: 401, body: { error: 'invalid_credentials' } });
    expect((await login(user.email, NEW_PASSWORD)).status).toBe(401);
    expect((await login(user.email, OTHER_PASSWORD)).status).toBe(200);
  });

  it('a change sent twice from one session: the first answers live tokens, the second changes nothing', async () => {
    const user = await registerUser(one.url);
    let first: Awaited<ReturnType<typeof call>> | undefined;
    // The second request checks the current password, then the first runs whole.
    afterNextPasswordCheck(async () => {
      first = await changePassword(user.accessToken, NEW_PASSWORD);
    });
    const second = await changePassword(user.accessToken, OTHER_PASSWORD);
    expect(first?.status).toBe(200);
    expect(second).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    expect((await authenticate(first?.body?.access_token as string)).status).toBe(200);
    expect((await refresh(first?.body?.refresh_token as string)).status).toBe(200);
    expect((await login(user.email, NEW_PASSWORD)).status).toBe(200);
  });

  it('a refresh sent before a change and handled after it is refused, and leaves the kept session alone', async () => {
    const user = await registerUser(one.url);
    const changed = await changePassword(user.accessToken, NEW_PASSWORD);
    expect(changed.status).toBe(200);
    // The tab's refresh, sent before the change, arrives after it: refused, not taken for theft.
    expect(await refresh(user.refreshToken)).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
    expect((await authenticate(changed.body?.access_token as string)).status).toBe(200);
    expect((await refresh(changed.body?.refresh_token as string)).status).toBe(200);
  });

  it('an admin disabling the account during a change leaves no live session; the change, made, is recorded', async () => {
    const user = await registerUser(one.url);
    const recorded = recordedFor(user.userId);
    beforeNextPasswordWrite(() => disableUser(one.deps, admin, user.userId));
    const changed = await changePassword(user.accessToken, NEW_PASSWORD);
    expect(changed).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    // The new hash was written before the account was found disabled: the trail says so.
    expect(recorded).toMatchObject([{ event: 'password_changed', details: { sessions_ended: 'all' } }]);
    expect(await one.deps.sessions.list(user.userId)).toEqual([]);
    await expectDead({ access_token: user.accessToken, refresh_token: user.refreshToken });
  });

  it('an admin changing the roles during a change: the new session carries the new roles', async () => {
    const user = await registerUser(one.url);
    beforeNextPasswordWrite(() => setUserRoles(one.deps, admin, user.userId, ['user', 'auditor']));
    const changed = await changePassword(user.accessToken, NEW_PASSWORD);
    expect(changed.status).toBe(200);
    const checked = await authenticate(changed.body?.access_token as string);
    expect(checked.status).toBe(200);
    expect(checked.headers.get('x-user-roles')).toBe('user,auditor');
    expect((await one.deps.sessions.list(user.userId)).map((s) => s.id)).toEqual([changed.body?.session_id]);
  });

  it('a change made while an admin change has yet to end the sessions: the kept session goes on with the account\'s roles, its refreshes too', async () => {
    const user = await registerUser(one.url);
    // Written, its end of sessions not done yet (Redis failed it; the retries are to come).
    expect(await one.deps.users.setRoles(user.userId, ['auditor'])).toBe(true);
    const changed = await changePassword(user.accessToken, NEW_PASSWORD);
    expect(changed.status).toBe(200);
    expect((await authenticate(changed.body?.access_token as string)).headers.get('x-user-roles')).toBe('auditor');
    const refreshed = await refresh(changed.body?.refresh_token as string);
    expect(refreshed.status).toBe(200);
    expect((await authenticate(refreshed.body?.access_token as string)).headers.get('x-user-roles')).toBe('auditor');
  });

  it('of two sessions changing the password at once, the one the other ended changes nothing', async () => {
    const user = await registerUser(one.url);
    const second = (await login(user.email)).body ?? {};
    let first: Awaited<ReturnType<typeof call>> | undefined;
    // The second session's change checks the current password, then the first's runs whole.
    afterNextPasswordCheck(async () => {
      first = await changePassword(user.accessToken, NEW_PASSWORD);
    });
    const late = await changePassword(second.access_token as string, OTHER_PASSWORD);
    expect(first?.status).toBe(200);
    expect(late).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    await expectDead(second);
    expect((await login(user.email, OTHER_PASSWORD)).status).toBe(401);
    expect((await login(user.email, NEW_PASSWORD)).status).toBe(200);
    expect((await authenticate(first?.body?.access_token as string)).status).toBe(200);
  });
});
