import { hash } from '@node-rs/argon2';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AttemptLimiter } from '../../src/auth/account-proof.js';
import { authenticateUser, login } from '../../src/auth/login.js';
import { argon2Options, createPasswordHasher, type HashPlace } from '../../src/passwords/hasher.js';
import { call, PASSWORD, registerUser, testCluster, uniqueEmail, type TestInstance } from '../helpers/test-app.js';

describe('password policy over HTTP', () => {
  let app: TestInstance;
  beforeAll(async () => {
    app = await (await testCluster()).start();
  });

  it('refuses a common password at register with 400 weak_password, in any case', async () => {
    for (const password of ['password1', 'Sunshine', 'QWERTYUIOP']) {
      const email = uniqueEmail();
      const response = await call(app.url, 'POST', '/register', { body: { email, password } });
      expect(response, password).toMatchObject({ status: 400, body: { error: 'weak_password', error_description: expect.stringMatching(/most commonly used/) } });
      expect(await app.deps.users.findByEmail(email)).toBeNull();
    }
  });

  it('refuses a common new password at /password and keeps the old one', async () => {
    const user = await registerUser(app.url);
    const response = await call(app.url, 'POST', '/password', { token: user.accessToken, body: { current_password: PASSWORD, new_password: 'Trustno1' } });
    expect(response).toMatchObject({ status: 400, body: { error: 'weak_password' } });
    expect((await call(app.url, 'POST', '/login', { body: { email: user.email, password: PASSWORD } })).status).toBe(200);
  });

  it('accepts a common password when passwords.reject_common is false', async () => {
    const lenient = await (await testCluster({ passwords: { reject_common: false } })).start();
    expect((await call(lenient.url, 'POST', '/register', { body: { email: uniqueEmail(), password: 'password1' } })).status).toBe(201);
  });

  it('upgrades a hash made with weaker argon2 parameters on the next login', async () => {
    const email = uniqueEmail();
    const weakHash = await hash(PASSWORD, { ...argon2Options, memoryCost: 4096 });
    expect(weakHash).toMatch(/^\$argon2id\$v=19\$m=4096,t=2,p=1\$/);
    const user = await app.deps.users.create({ email, passwordHash: weakHash });
    expect(user).not.toBeNull();

    const wrong = await call(app.url, 'POST', '/login', { body: { email, password: 'not the password at all' } });
    expect(wrong.status).toBe(401);
    expect((await app.deps.users.findByEmail(email))?.passwordHash).toBe(weakHash);

    const login = await call(app.url, 'POST', '/login', { body: { email, password: PASSWORD } });
    expect(login.status).toBe(200);
    const upgraded = (await app.deps.users.findByEmail(email))?.passwordHash;
    expect(upgraded).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(app.deps.hasher.needsRehash(upgraded ?? '')).toBe(false);
    expect((await call(app.url, 'POST', '/login', { body: { email, password: PASSWORD } })).status).toBe(200);
  });

  it('one password in any Unicode form: registered decomposed, it logs in precomposed, and changes with either', async () => {
    const email = uniqueEmail();
    const decomposed = 'cafe\u0301 cre\u0300me bru\u0302le\u0301e';
    const precomposed = decomposed.normalize('NFC');
    expect(precomposed).not.toBe(decomposed);
    expect((await call(app.url, 'POST', '/register', { body: { email, password: decomposed } })).status).toBe(201);
    const login = await call(app.url, 'POST', '/login', { body: { email, password: precomposed } });
    expect(login.status).toBe(200);
    const token = (login.body as { access_token: string }).access_token;
    const changed = await call(app.url, 'POST', '/password', { token, body: { current_password: decomposed, new_password: `${precomposed} 2` } });
    expect(changed.status).toBe(200);
    expect((await call(app.url, 'POST', '/login', { body: { email, password: `${decomposed} 2` } })).status).toBe(200);
  });

  it('a hash of the password as sent, made before passwords were normalised, still logs in with that form and is replaced by the normal form\'s', async () => {
    const email = uniqueEmail();
    const decomposed = 'cafe\u0301 cre\u0300me bru\u0302le\u0301e';
    const legacy = await hash(decomposed, argon2Options);
    expect(await app.deps.users.create({ email, passwordHash: legacy })).not.toBeNull();
    expect((await call(app.url, 'POST', '/login', { body: { email, password: decomposed.normalize('NFC') } })).status).toBe(401);
    expect((await call(app.url, 'POST', '/login', { body: { email, password: decomposed } })).status).toBe(200);
    const replaced = (await app.deps.users.findByEmail(email))?.passwordHash ?? '';
    expect(replaced).not.toBe(legacy);
    expect(await app.deps.hasher.match(replaced, decomposed)).toBe('normal');
    expect((await call(app.url, 'POST', '/login', { body: { email, password: decomposed.normalize('NFC') } })).status).toBe(200);
  });

  it('a login whose password needs two verifies (its normal form differs) takes two argon2 places at the door, or is refused there', async () => {
    const email = uniqueEmail();
    const decomposed = 'cafe\u0301 cre\u0300me bru\u0302le\u0301e';
    expect((await call(app.url, 'POST', '/register', { body: { email, password: decomposed } })).status).toBe(201);
    // Room for one operation only: enough for an ASCII password's check, not for this one's two.
    const tight = createPasswordHasher({ concurrency: 1, maxQueue: 0 });
    try {
      const deps = { ...app.deps, hasher: tight };
      const attempt: AttemptLimiter = (_email, run) => run();
      await expect(login(deps, { email, password: decomposed }, {}, attempt)).rejects.toMatchObject({ code: 'unavailable' });
      await expect(login(deps, { email: uniqueEmail(), password: 'plain ascii password' }, {}, attempt)).rejects.toMatchObject({ code: 'invalid_credentials' });
      // Nothing was left held: the queue is empty again.
      expect(tight.queueDepth()).toBe(0);
    } finally {
      await tight.close();
    }
  });

  it('a proven login is not refused for load by its re-hash: with no room left, the upgrade waits for a later login', async () => {
    const email = uniqueEmail();
    const weakHash = await hash(PASSWORD, { ...argon2Options, memoryCost: 4096 });
    expect(await app.deps.users.create({ email, passwordHash: weakHash })).not.toBeNull();
    // One slot, no queue, and other requests take the slot the password check frees.
    const full = createPasswordHasher({ concurrency: 1, maxQueue: 0 });
    const match = full.match;
    let others: HashPlace | undefined;
    full.match = async (...args) => {
      const matched = await match(...args);
      others = full.reserve();
      return matched;
    };
    try {
      const deps = { ...app.deps, hasher: full };
      // Before: the re-hash was refused (503 unavailable) after the password was proven.
      const user = await authenticateUser(deps, email, PASSWORD, {}, full.reserve());
      expect(user.passwordHash).toBe(weakHash);
      expect((await app.deps.users.findByEmail(email))?.passwordHash).toBe(weakHash);
      // With room, the next login upgrades it.
      full.match = match;
      others?.release();
      const upgraded = await authenticateUser(deps, email, PASSWORD, {}, full.reserve());
      expect(upgraded.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    } finally {
      await full.close();
    }
  });
});
