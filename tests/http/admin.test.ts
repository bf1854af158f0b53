import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/errors.js';
import { redisKeys } from '../../src/sessions/redis-keys.js';
import { landingLate } from '../helpers/late-write.js';
import { testRedisUrl } from '../helpers/services.js';
import { call, PASSWORD, registerUser, testCluster, type TestInstance } from '../helpers/test-app.js';

describe('admin controls (redis + postgres, two instances)', () => {
  let one: TestInstance;
  let two: TestInstance;
  let admin: { token: string; userId: string };

  const login = (email: string) => call(one.url, 'POST', '/login', { body: { email, password: PASSWORD } });
  const authenticate = (token: string) => call(two.url, 'GET', '/authenticate', { token });
  const asAdmin = (method: string, path: string, body?: unknown) => call(one.url, method, `/admin${path}`, { token: admin.token, body });

  let cluster: Awaited<ReturnType<typeof testCluster>>;

  beforeAll(async () => {
    cluster = await testCluster();
    one = await cluster.start();
    two = await cluster.start();
    const user = await registerUser(one.url);
    expect(await one.deps.users.setRoles(user.userId, ['admin'])).toBe(true);
    const response = await login(user.email);
    expect(response.status).toBe(200);
    admin = { token: response.body?.access_token as string, userId: user.userId };
  });

  it('refuses callers without the admin role (403) and without a token (401)', async () => {
    const user = await registerUser(one.url);
    const forbidden = await call(one.url, 'GET', `/admin/users/${user.userId}`, { token: user.accessToken });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({ error: 'forbidden' });
    expect((await call(one.url, 'POST', `/admin/users/${admin.userId}/disable`, { token: user.accessToken })).status).toBe(403);
    expect((await call(one.url, 'GET', `/admin/users/${user.userId}`)).status).toBe(401);
    // OPTIONS too (not a CORS preflight: CORS is off here): the paths are told only to an admin.
    for (const path of [`/admin/users/${user.userId}/roles`, '/admin/nope']) {
      expect((await call(one.url, 'OPTIONS', path)).status, path).toBe(401);
      expect((await call(one.url, 'OPTIONS', path, { token: user.accessToken })).status, path).toBe(403);
    }
    expect((await call(one.url, 'OPTIONS', `/admin/users/${user.userId}/roles`, { token: admin.token })).status).toBe(405);
    expect((await call(one.url, 'OPTIONS', '/admin/nope', { token: admin.token })).status).toBe(404);
  });

  it('shows a user by id and by e-mail, never the password hash; unknown users are 404', async () => {
    const user = await registerUser(one.url);
    const byId = await asAdmin('GET', `/users/${user.userId}`);
    expect(byId.status).toBe(200);
    expect(byId.headers.get('cache-control')).toBe('no-store');
    expect(byId.body).toMatchObject({ id: user.userId, email: user.email, roles: ['user'], disabled: false, disabled_at: null });
    expect(JSON.stringify(byId.body)).not.toContain('argon2');
    const byEmail = await asAdmin('GET', `/users?email=${encodeURIComponent(user.email.toUpperCase())}`);
    expect(byEmail.body).toMatchObject({ id: user.userId });
    for (const path of ['/users/00000000-0000-4000-8000-000000000000', '/users/not-a-uuid', '/users?email=nobody%40example.test']) {
      const response = await asAdmin('GET', path);
      expect(response.status, path).toBe(404);
      expect(response.body).toMatchObject({ error: 'not_found' });
    }
    expect((await asAdmin('GET', '/users')).status).toBe(400);
    // Given twice, whichever comes first: refused, not guessed.
    const twice = await asAdmin('GET', `/users?email=nobody%40example.test&email=${encodeURIComponent(user.email)}`);
    expect(twice).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: 'email: given more than once' } });
    // PostgreSQL text cannot hold NUL: such a search is the caller's mistake, not a 500.
    for (const email of ['%00', 'a%00b%40example.test', `${'a'.repeat(250)}%40example.test`]) {
      const response = await asAdmin('GET', `/users?email=${email}`);
      expect(response.status, email).toBe(400);
      expect(response.body).toMatchObject({ error: 'invalid_request' });
    }
    expect((await asAdmin('POST', '/users/00000000-0000-4000-8000-000000000000/disable')).status).toBe(404);
    // Found unknown before anything is ended: no token version is made for it, where a known
    // user's change makes one.
    const unknown = randomUUID();
    expect((await asAdmin('PUT', `/users/${unknown}/roles`, { roles: ['auditor'] })).status).toBe(404);
    const known = await registerUser(one.url);
    expect((await asAdmin('PUT', `/users/${known.userId}/roles`, { roles: ['auditor'] })).status).toBe(200);
    const redis = new Redis(testRedisUrl());
    const tokenVersion = redisKeys(cluster.config.cache.key_prefix).tokenVersion;
    try {
      expect([await redis.exists(tokenVersion(unknown)), await redis.exists(tokenVersion(known.userId))]).toEqual([0, 1]);
    } finally {
      redis.disconnect();
    }
    const deleted = await asAdmin('DELETE', `/users/${user.userId}`);
    expect([deleted.status, deleted.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    // A path with routes of two methods lists both (and GET's HEAD).
    const patched = await asAdmin('PATCH', `/users/${user.userId}/sessions`);
    expect([patched.status, patched.headers.get('allow')]).toEqual([405, 'GET, HEAD, DELETE']);
    expect(patched.body).toMatchObject({ error: 'method_not_allowed', error_description: 'PATCH is not allowed here; use GET, HEAD or DELETE' });
  });

  it('a change saved whose end of sessions fails says so (503), and repeating it ends them', async ({ onTestFinished }) => {
    const user = await registerUser(one.url);
    const { sessions } = one.deps;
    const endAll = sessions.endAll;
    const restore = () => void (sessions.endAll = endAll);
    onTestFinished(restore);
    // Redis fails for the whole request: the end before the write and the one after it.
    sessions.endAll = async () => {
      throw new UnavailableError('session store', new Error('injected: Redis failed around the write'));
    };
    const failed = await asAdmin('POST', `/users/${user.userId}/disable`);
    restore();
    expect(failed).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    expect(failed.body?.error_description).toContain('the change is saved');
    expect((await asAdmin('GET', `/users/${user.userId}`)).body).toMatchObject({ disabled: true });
    // The sessions live on until the request is repeated: this is why the 503 must say so.
    expect((await authenticate(user.accessToken)).status).toBe(200);
    expect((await asAdmin('POST', `/users/${user.userId}/disable`)).status).toBe(200);
    expect((await authenticate(user.accessToken)).status).toBe(401);
    expect((await call(two.url, 'POST', '/refresh', { body: { refresh_token: user.refreshToken } })).status).toBe(401);
  });

  it('disable and role changes end the sessions before the database write too, so an instance dying between the write and the end after it would leave none alive', async ({ onTestFinished }) => {
    const { users } = one.deps;
    const changeAs = users.changeAs;
    onTestFinished(() => void (users.changeAs = changeAs));
    const user = await registerUser(one.url);
    let live = user.accessToken;
    /** What the user's live token got when the write began. */
    const atWrite: number[] = [];
    users.changeAs = async (...args) => {
      atWrite.push((await authenticate(live)).status);
      return changeAs(...args);
    };
    expect((await authenticate(live)).status).toBe(200);
    expect((await asAdmin('PUT', `/users/${user.userId}/roles`, { roles: ['auditor'] })).status).toBe(200);
    live = (await login(user.email)).body?.access_token as string;
    expect((await authenticate(live)).status).toBe(200);
    expect((await asAdmin('POST', `/users/${user.userId}/disable`)).status).toBe(200);
    expect(atWrite).toEqual([401, 401]);
  });

  it('a role change whose write the database did not answer in time (it may still land) ends the sessions at once and again once it lands, and is recorded then', async ({ onTestFinished }) => {
    const user = await registerUser(one.url);
    const recorded: string[] = [];
    const { audit } = one.deps;
    const record = audit.record;
    audit.record = (event) => {
      if (event.userId === user.userId && event.event.startsWith('admin_')) recorded.push(event.event);
      record(event);
    };
    onTestFinished(() => void (audit.record = record));
    const { land } = landingLate(one.deps.users, 'changeAs');
    const failed = await asAdmin('PUT', `/users/${user.userId}/roles`, { roles: ['auditor'] });
    expect(failed).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    expect(recorded).toEqual([]);
    expect((await authenticate(user.accessToken)).status).toBe(401);
    // A login before the write lands carries the old roles…
    const raced = await login(user.email);
    expect(raced.status).toBe(200);
    land();
    // …and its session ends once the write has landed: no token with the old roles lives on.
    await expect.poll(async () => (await authenticate(raced.body?.access_token as string)).status, { timeout: 5_000 }).toBe(401);
    expect((await call(two.url, 'POST', '/refresh', { body: { refresh_token: raced.body?.refresh_token } })).status).toBe(401);
    expect((await asAdmin('GET', `/users/${user.userId}`)).body).toMatchObject({ roles: ['auditor'] });
    // Recorded once it landed, not before.
    expect(recorded).toEqual(['admin_roles_changed']);
  });

  it('an instance shutting down with a late write pending waits for it: the sessions end once it lands and the change is audited, before the stores close', async () => {
    const three = await cluster.start();
    const user = await registerUser(one.url);
    const { land } = landingLate(three.deps.users, 'changeAs');
    const failed = await call(three.url, 'PUT', `/admin/users/${user.userId}/roles`, { token: admin.token, body: { roles: ['auditor'] }, headers: { 'user-agent': 'console/2.0' } });
    expect(failed.status).toBe(503);
    const raced = await login(user.email);
    expect(raced.status).toBe(200);
    // The write lands while the instance shuts down: once its HTTP drain is over, when the
    // stores would close next but for the late write it waits for.
    three.server.once('close', land);
    await three.stop();
    expect((await authenticate(raced.body?.access_token as string)).status).toBe(401);
    const sql = postgres(cluster.config.database.url ?? '', { max: 1, onnotice: () => {} });
    try {
      const rows = await sql`select event, ip, details from auth_events where user_id = ${user.userId} and event like 'admin_%'`;
      expect(rows.map((row) => row['event'])).toEqual(['admin_roles_changed']);
      // Which admin, from where.
      expect(rows[0]).toMatchObject({ ip: '127.0.0.1', details: { actor: admin.userId, user_agent: 'console/2.0' } });
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it('disable kills every token of the user on every instance and refuses login; enable lets them log in', async () => {
    const user = await registerUser(one.url);
    expect((await authenticate(user.accessToken)).status).toBe(200);
    const disabled = await asAdmin('POST', `/users/${user.userId}/disable`);
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ id: user.userId, disabled: true });
    expect((await authenticate(user.accessToken)).status).toBe(401);
    expect((await call(two.url, 'POST', '/refresh', { body: { refresh_token: user.refreshToken } })).status).toBe(401);
    const refused = await login(user.email);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: 'invalid_credentials' });

    const enabled = await asAdmin('POST', `/users/${user.userId}/enable`);
    expect(enabled.body).toMatchObject({ disabled: false, disabled_at: null });
    const again = await login(user.email);
    expect(again.status).toBe(200);
    expect((await authenticate(again.body?.access_token as string)).status).toBe(200);
  });

  /**
   * Runs `change` at the worst moment of a login: after its password check (the user was already
   * read) and before its session exists. The hasher is the real one, wrapped to pause there.
   */
  async function loginRacing(email: string, change: () => Promise<unknown>) {
    const { hasher } = one.deps;
    const match = hasher.match;
    hasher.match = async (...args) => {
      const matched = await match(...args);
      await change();
      return matched;
    };
    try {
      return await login(email);
    } finally {
      hasher.match = match;
    }
  }

  it('a login racing a disable gets no live token: the change wins', async () => {
    const user = await registerUser(one.url);
    const raced = await loginRacing(user.email, async () => expect((await asAdmin('POST', `/users/${user.userId}/disable`)).status).toBe(200));
    expect(raced.status).toBe(401);
    expect(raced.body).toMatchObject({ error: 'invalid_credentials' });
    const sessions = await asAdmin('GET', `/users/${user.userId}/sessions`);
    expect(sessions.body).toEqual({ sessions: [] });
  });

  it('a login racing a role change gets no token with the old roles', async () => {
    const user = await registerUser(one.url);
    const raced = await loginRacing(user.email, async () => expect((await asAdmin('PUT', `/users/${user.userId}/roles`, { roles: ['user', 'auditor'] })).status).toBe(200));
    expect(raced.status).toBe(503);
    expect(raced.headers.get('retry-after')).toBe('1');
    const again = await login(user.email);
    expect(again.status).toBe(200);
    expect((await authenticate(again.body?.access_token as string)).headers.get('x-user-roles')).toBe('user,auditor');
  });

  it('an admin cannot disable their own account, however the id is spelt', async () => {
    for (const id of [admin.userId, admin.userId.toUpperCase()]) {
      const response = await asAdmin('POST', `/users/${id}/disable`);
      expect(response.status, id).toBe(400);
    }
    expect((await authenticate(admin.token)).status).toBe(200);
  });

  it('reads ids from the path in any case (a UUID is case-insensitive on input)', async () => {
    const user = await registerUser(one.url);
    const upper = user.userId.toUpperCase();
    expect((await asAdmin('GET', `/users/${upper}`)).body).toMatchObject({ id: user.userId });
    expect((await asAdmin('DELETE', `/users/${upper}/sessions/${user.sessionId.toUpperCase()}`)).status).toBe(204);
    expect((await authenticate(user.accessToken)).status).toBe(401);
  });

  it('an admin cannot take the admin role from themself', async () => {
    const response = await asAdmin('PUT', `/users/${admin.userId}/roles`, { roles: ['user'] });
    expect(response).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect((await authenticate(admin.token)).headers.get('x-user-roles')).toContain('admin');
  });

  it('setting roles kills old tokens; the next login carries the new roles', async () => {
    const user = await registerUser(one.url);
    // Duplicates are dropped before the roles are counted: 40 of one role are one role.
    const response = await asAdmin('PUT', `/users/${user.userId}/roles`, { roles: ['editor', 'billing:read', ...Array<string>(40).fill('editor')] });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ roles: ['editor', 'billing:read'] });
    expect((await authenticate(user.accessToken)).status).toBe(401);
    const fresh = await login(user.email);
    const identity = await authenticate(fresh.body?.access_token as string);
    expect(identity.status).toBe(200);
    expect(identity.headers.get('x-user-roles')).toBe('editor,billing:read');
    // No roles at all is a valid choice.
    expect((await asAdmin('PUT', `/users/${user.userId}/roles`, { roles: [] })).body).toMatchObject({ roles: [] });
  });

  it.each([
    ['a role with a space', { roles: ['has space'] }],
    ['a role with a comma (it would split X-User-Roles)', { roles: ['a,b'] }],
    ['an empty role', { roles: [''] }],
    ['a role over 64 characters', { roles: ['r'.repeat(65)] }],
    ['more than 32 roles', { roles: Array.from({ length: 33 }, (_, index) => `r${index}`) }],
    ['a role that is not a string', { roles: [1] }],
    ['roles that are not a list', { roles: 'admin' }],
    ['no roles field', {}],
  ])('refuses %s with 400 and changes nothing', async (_name, body) => {
    const user = await registerUser(one.url);
    const response = await asAdmin('PUT', `/users/${user.userId}/roles`, body);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: 'invalid_request' });
    expect((await authenticate(user.accessToken)).status).toBe(200);
  });

  it('lists a user’s sessions and revokes one, then all', async () => {
    const user = await registerUser(one.url);
    const second = await login(user.email);
    const secondToken = second.body?.access_token as string;
    const listed = await asAdmin('GET', `/users/${user.userId}/sessions`);
    expect(listed.status).toBe(200);
    const sessions = (listed.body as { sessions: Array<{ id: string; created_at: string }> }).sessions;
    expect(sessions.map((session) => session.id).sort()).toEqual([user.sessionId, second.body?.session_id].sort());

    expect((await asAdmin('DELETE', `/users/${user.userId}/sessions/${user.sessionId}`)).status).toBe(204);
    expect((await authenticate(user.accessToken)).status).toBe(401);
    expect((await authenticate(secondToken)).status).toBe(200);
    expect((await asAdmin('DELETE', `/users/${user.userId}/sessions/${user.sessionId}`)).status).toBe(404);
    // Another user's session id is not found under this user.
    expect((await asAdmin('DELETE', `/users/${admin.userId}/sessions/${second.body?.session_id as string}`)).status).toBe(404);

    expect((await asAdmin('DELETE', `/users/${user.userId}/sessions`)).status).toBe(204);
    expect((await authenticate(secondToken)).status).toBe(401);
    expect((await asAdmin('GET', `/users/${user.userId}/sessions`)).body).toEqual({ sessions: [] });
    expect((await asAdmin('GET', '/users/00000000-0000-4000-8000-000000000000/sessions')).status).toBe(404);
    expect((await asAdmin('DELETE', '/users/00000000-0000-4000-8000-000000000000/sessions')).status).toBe(404);
  });

  it('removing the admin role ends admin rights at once', async () => {
    const other = await registerUser(one.url);
    await one.deps.users.setRoles(other.userId, ['admin']);
    const otherAdmin = (await login(other.email)).body?.access_token as string;
    expect((await call(one.url, 'GET', `/admin/users/${admin.userId}`, { token: otherAdmin })).status).toBe(200);
    expect((await asAdmin('PUT', `/users/${other.userId}/roles`, { roles: ['user'] })).status).toBe(200);
    expect((await call(two.url, 'GET', `/admin/users/${admin.userId}`, { token: otherAdmin })).status).toBe(401);
    const relogin = (await login(other.email)).body?.access_token as string;
    expect((await call(two.url, 'GET', `/admin/users/${admin.userId}`, { token: relogin })).status).toBe(403);
  });

  it('two admins demoting or disabling each other at once: one wins, the other is no longer an admin (403); an admin remains', async () => {
    const pair = [await registerUser(one.url), await registerUser(one.url)];
    const isAdmin = async (userId: string) => {
      const user = await one.deps.users.findById(userId);
      return user !== null && user.disabledAt === null && user.roles.includes('admin');
    };
    for (let round = 0; round < 8; round++) {
      for (const user of pair) {
        await one.deps.users.setRoles(user.userId, ['admin']);
        await one.deps.users.setDisabled(user.userId, false);
      }
      const tokens = await Promise.all(pair.map(async (user) => (await login(user.email)).body?.access_token as string));
      // Even rounds take the role away, odd rounds disable; each admin acts on the other.
      const act = (by: number) => {
        const target = (pair[1 - by] as { userId: string }).userId;
        const [method, path, body] = round % 2 === 0 ? ['PUT', `/users/${target}/roles`, { roles: ['user'] }] : ['POST', `/users/${target}/disable`, undefined];
        return call(by === 0 ? one.url : two.url, method, `/admin${path}`, { token: tokens[by] as string, body });
      };
      const answers = await Promise.all([act(0), act(1)]);
      // The loser is refused: 403 if its token was still live when it was checked, 401 if the
      // winner's end of its sessions came first.
      const statuses = answers.map((answer) => answer.status).sort();
      expect(statuses[0], `round ${round}`).toBe(200);
      expect([401, 403], `round ${round}`).toContain(statuses[1]);
      const admins = await Promise.all(pair.map((user) => isAdmin(user.userId)));
      expect(admins.filter(Boolean), `round ${round}`).toHaveLength(1);
    }
  });
});
