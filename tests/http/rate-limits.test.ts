import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, PASSWORD, registerUser, testCluster, uniqueEmail, type TestInstance } from '../helpers/test-app.js';

/**
 * A made-up client address, a new one each call (the tests share their cluster's counters: two
 * drawn at random collided in about 1 run in 2,000); the default trust_proxy believes
 * X-Forwarded-For from 127.0.0.1.
 */
let fakeIps = 0;
const fakeIp = () => {
  fakeIps += 1;
  return `198.51.${Math.floor(fakeIps / 254) % 256}.${(fakeIps % 254) + 1}`;
};

const login = (base: string, email: string, password: string, ip?: string, extra: Record<string, string> = {}) =>
  call(base, 'POST', '/login', { body: { email, password, ...extra }, headers: ip ? { 'x-forwarded-for': ip } : {} });

/**
 * Long locks: an attempt is counted before its password check, so a lock starts before the
 * attempt that earns it is answered. Every step of a test happens while it holds, however long
 * argon2 (one thread at the lowest priority, shared with the tests running beside) takes. The cap
 * is above the first lock, so `Retry-After` ≤ 20 still catches a first lock that is not `backoff`.
 */
const loginLimits = {
  enabled: true,
  login_account: { max: 3, window: '60s', backoff: '20s', max_backoff: '60s' },
  login_device: { max: 3, window: '60s', backoff: '20s', max_backoff: '60s' },
  login_ip: { max: 8, window: '60s', backoff: '20s', max_backoff: '60s' },
  register_ip: { max: 0 },
  refresh_ip: { max: 0 },
};

function expectRateLimited(response: Awaited<ReturnType<typeof call>>, maxSeconds: number) {
  expect(response.status).toBe(429);
  expect(response.body).toMatchObject({ error: 'rate_limited' });
  const retryAfter = Number(response.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxSeconds);
}

const metric = async (base: string, limit: string) => {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((row) => row.startsWith(`jwt_rate_limited_total{limit="${limit}"}`));
  return line === undefined ? Number.NaN : Number(line.split(' ').at(-1));
};

describe.concurrent('failed logins per account', () => {
  let app: TestInstance;
  beforeAll(async () => {
    app = await (await testCluster({ limits: loginLimits })).start();
  });

  it('N wrong passwords → 401; the next → 429 with Retry-After, the right password too (no oracle); other accounts unaffected', async () => {
    const [user, other] = await Promise.all([registerUser(app.url), registerUser(app.url)]);
    const ip = fakeIp();
    for (let i = 0; i < 3; i += 1) expect((await login(app.url, user.email, 'wrong password!', ip)).status).toBe(401);
    expectRateLimited(await login(app.url, user.email, 'wrong password!', ip), 20);
    expectRateLimited(await login(app.url, user.email, PASSWORD, ip), 20);
    expectRateLimited(await login(app.url, user.email.toUpperCase(), PASSWORD, fakeIp()), 20);
    expect((await login(app.url, other.email, PASSWORD, ip)).status).toBe(200);
    expect(await metric(app.url, 'login_account')).toBeGreaterThanOrEqual(3);
  });

  it('wrong current passwords on /password count as failed logins of the account: then /password and /login answer 429', async () => {
    const user = await registerUser(app.url);
    const ip = fakeIp();
    const changePassword = (current: string) =>
      call(app.url, 'POST', '/password', {
        body: { current_password: current, new_password: 'another long passphrase' },
        headers: { authorization: `Bearer ${user.accessToken}`, 'x-forwarded-for': ip },
      });
    for (let i = 0; i < 3; i += 1) expect((await changePassword('wrong password!')).status).toBe(401);
    expectRateLimited(await changePassword('wrong password!'), 20);
    expectRateLimited(await changePassword(PASSWORD), 20);
    expectRateLimited(await login(app.url, user.email, PASSWORD, fakeIp()), 20);
  });

  it('an unknown e-mail behaves exactly like a known one', async () => {
    const ip = fakeIp();
    const email = uniqueEmail();
    for (let i = 0; i < 3; i += 1) expect((await login(app.url, email, 'wrong password!', ip)).status).toBe(401);
    expectRateLimited(await login(app.url, email, 'wrong password!', ip), 20);
  });

  it('a success in between resets the account counter', async () => {
    const user = await registerUser(app.url);
    const ip = fakeIp();
    for (let i = 0; i < 2; i += 1) await login(app.url, user.email, 'wrong password!', ip);
    expect((await login(app.url, user.email, PASSWORD, ip)).status).toBe(200);
    for (let i = 0; i < 3; i += 1) expect((await login(app.url, user.email, 'wrong password!', ip)).status).toBe(401);
    expectRateLimited(await login(app.url, user.email, 'wrong password!', ip), 20);
  });

  it('a lock is recorded once, however many requests it refuses (each is still counted)', async ({ onTestFinished }) => {
    // An instance of its own: the tests beside it add to the same counter at the same time.
    const own = await (await testCluster({ limits: loginLimits })).start();
    onTestFinished(() => own.stop());
    const user = await registerUser(own.url);
    const ip = fakeIp();
    const { audit } = own.deps;
    const record = audit.record;
    const recorded: string[] = [];
    audit.record = (event) => {
      if (event.ip === ip) recorded.push(event.event);
      record.call(audit, event);
    };
    try {
      const before = await metric(own.url, 'login_account');
      for (let i = 0; i < 3; i += 1) expect((await login(own.url, user.email, 'wrong password!', ip)).status).toBe(401);
      for (let i = 0; i < 10; i += 1) expectRateLimited(await login(own.url, user.email, 'wrong password!', ip), 20);
      expect(recorded.filter((event) => event === 'rate_limited')).toEqual(['rate_limited']);
      expect((await metric(own.url, 'login_account')) - (Number.isNaN(before) ? 0 : before)).toBe(10);
    } finally {
      audit.record = record;
    }
  });

  it('parallel wrong passwords cannot slip past the count', async () => {
    const user = await registerUser(app.url);
    const ip = fakeIp();
    const answers = await Promise.all(Array.from({ length: 12 }, () => login(app.url, user.email, 'wrong password!', ip)));
    expect(answers.filter((answer) => answer.status === 401)).toHaveLength(3);
    expect(answers.filter((answer) => answer.status === 429)).toHaveLength(9);
  });
});

describe('a lock that ends', () => {
  /** The one lock a test waits out: long enough for the attempts before it on a busy machine, short enough to wait. */
  const BACKOFF_MS = 5_000;

  it('back-off, not lockout: after the lock one attempt is let through, and success clears the failures', async () => {
    const app = await (
      await testCluster({ limits: { ...loginLimits, login_account: { ...loginLimits.login_account, backoff: `${BACKOFF_MS}ms` } } })
    ).start();
    const user = await registerUser(app.url);
    const ip = fakeIp();
    for (let i = 0; i < 3; i += 1) await login(app.url, user.email, 'wrong password!', ip);
    expectRateLimited(await login(app.url, user.email, PASSWORD, ip), BACKOFF_MS / 1000);
    await sleep(BACKOFF_MS + 100);
    expect((await login(app.url, user.email, PASSWORD, ip)).status).toBe(200);
    // Cleared: a full allowance of failures again.
    for (let i = 0; i < 3; i += 1) expect((await login(app.url, user.email, 'wrong password!', ip)).status).toBe(401);
    expectRateLimited(await login(app.url, user.email, 'wrong password!', ip), BACKOFF_MS / 1000);
  });
});

describe.concurrent('trusted devices (device_token of an earlier login)', () => {
  let app: TestInstance;
  beforeAll(async () => {
    app = await (await testCluster({ limits: loginLimits })).start();
  });

  /** A stranger fails the account's password until it is locked. */
  async function lockOut(email: string) {
    for (let i = 0; i < 3; i += 1) expect((await login(app.url, email, 'wrong password!', fakeIp())).status).toBe(401);
    expectRateLimited(await login(app.url, email, PASSWORD, fakeIp()), 20);
  }

  it('a stranger locking the account does not lock out the devices of its owner (register or login token); the lock stays for everyone else', async () => {
    const registered = await call(app.url, 'POST', '/register', { body: { email: uniqueEmail(), password: PASSWORD } });
    const email = (registered.body?.user as { email: string }).email;
    const fromRegister = registered.body?.device_token as string;
    const fromLogin = (await login(app.url, email, PASSWORD, fakeIp())).body?.device_token as string;
    expect(fromRegister).toMatch(/^dt1\./);
    await lockOut(email);
    for (const deviceToken of [fromRegister, fromLogin]) {
      const owner = await login(app.url, email, PASSWORD, fakeIp(), { device_token: deviceToken });
      expect(owner.status).toBe(200);
      expect(owner.body?.device_token).toMatch(/^dt1\./);
    }
    expectRateLimited(await login(app.url, email, PASSWORD, fakeIp()), 20);
  });

  it('no other token helps: another account\'s, an altered one, a made-up one', async () => {
    const [user, other] = await Promise.all([registerUser(app.url), registerUser(app.url)]);
    const own = (await login(app.url, user.email, PASSWORD, fakeIp())).body?.device_token as string;
    const othersToken = (await login(app.url, other.email, PASSWORD, fakeIp())).body?.device_token as string;
    await lockOut(user.email);
    const altered = `${own.slice(0, -1)}${own.endsWith('A') ? 'Q' : 'A'}`;
    for (const token of [othersToken, altered, 'dt1.made-up']) {
      expectRateLimited(await login(app.url, user.email, PASSWORD, fakeIp(), { device_token: token }), 20);
    }
    expect(await login(app.url, user.email, PASSWORD, fakeIp(), { device_token: '' })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });

  it('failures from a trusted device lock that device, not the account', async () => {
    const user = await registerUser(app.url);
    const deviceToken = (await login(app.url, user.email, PASSWORD, fakeIp())).body?.device_token as string;
    for (let i = 0; i < 3; i += 1) expect((await login(app.url, user.email, 'wrong password!', fakeIp(), { device_token: deviceToken })).status).toBe(401);
    expectRateLimited(await login(app.url, user.email, PASSWORD, fakeIp(), { device_token: deviceToken }), 20);
    expect(await metric(app.url, 'login_device')).toBeGreaterThanOrEqual(1);
    expect((await login(app.url, user.email, PASSWORD, fakeIp())).status).toBe(200);
  });

  it('failures from trusted devices still count against the client IP', async () => {
    const user = await registerUser(app.url);
    const devices = await Promise.all([1, 2, 3].map(async () => (await login(app.url, user.email, PASSWORD, fakeIp())).body?.device_token as string));
    const ip = fakeIp();
    // 3 + 3 + 2 failures from one address (the device limit is 3 each, the IP's 8).
    for (const [index, deviceToken] of devices.entries()) {
      for (let i = 0; i < (index === 2 ? 2 : 3); i += 1) expect((await login(app.url, user.email, 'wrong password!', ip, { device_token: deviceToken })).status).toBe(401);
    }
    expectRateLimited(await login(app.url, user.email, PASSWORD, ip, { device_token: devices[2] as string }), 20);
    expect((await login(app.url, user.email, PASSWORD, fakeIp(), { device_token: devices[2] as string })).status).toBe(200);
  });

  it('a password change kills every device token of the old password (a logout-all does not); /password answers a new one', async () => {
    const user = await registerUser(app.url);
    const [old, another] = await Promise.all([1, 2].map(async () => (await login(app.url, user.email, PASSWORD, fakeIp())).body?.device_token as string));
    const changed = await call(app.url, 'POST', '/password', {
      token: user.accessToken,
      body: { current_password: PASSWORD, new_password: 'another long passphrase', device_token: old },
    });
    expect(changed.status).toBe(200);
    const fresh = changed.body?.device_token as string;
    await lockOut(user.email);
    for (const token of [old ?? '', another ?? '']) {
      expectRateLimited(await login(app.url, user.email, 'another long passphrase', fakeIp(), { device_token: token }), 20);
    }
    const owner = await login(app.url, user.email, 'another long passphrase', fakeIp(), { device_token: fresh });
    expect(owner.status).toBe(200);
    // Sessions end; the device stays trusted (it still knows the password).
    expect((await call(app.url, 'POST', '/logout-all', { token: owner.body?.access_token as string })).status).toBe(204);
    expect((await login(app.url, user.email, 'another long passphrase', fakeIp(), { device_token: fresh })).status).toBe(200);
  });
});

describe('trusted devices, switched off or in cookie mode', () => {
  it('login_device.max 0: a device token counts as none (the account\'s lock applies)', async () => {
    const app = await (await testCluster({ limits: { ...loginLimits, login_device: { max: 0 } } })).start();
    const user = await registerUser(app.url);
    const deviceToken = (await login(app.url, user.email, PASSWORD, fakeIp())).body?.device_token as string;
    for (let i = 0; i < 3; i += 1) expect((await login(app.url, user.email, 'wrong password!', fakeIp(), { device_token: deviceToken })).status).toBe(401);
    expectRateLimited(await login(app.url, user.email, PASSWORD, fakeIp(), { device_token: deviceToken }), 20);
  });

  it('cookie mode: the device token is also an HttpOnly cookie, and a login sending only the cookie is a trusted one', async () => {
    const app = await (await testCluster({ auth: { refresh_cookie: true }, limits: loginLimits })).start();
    const user = await registerUser(app.url);
    const first = await login(app.url, user.email, PASSWORD, fakeIp());
    const line = first.headers.getSetCookie().find((cookie) => cookie.startsWith('__Host-dt='));
    expect(line).toMatch(/HttpOnly/);
    expect(line).toMatch(/Secure/);
    expect(line).toMatch(/SameSite=Strict/);
    expect(line).toMatch(/Path=\//);
    expect(line).toMatch(/Max-Age=31536000/);
    const cookie = line?.split(';')[0] ?? '';
    expect(cookie).toBe(`__Host-dt=${first.body?.device_token as string}`);
    for (let i = 0; i < 3; i += 1) expect((await login(app.url, user.email, 'wrong password!', fakeIp())).status).toBe(401);
    expectRateLimited(await login(app.url, user.email, PASSWORD, fakeIp()), 20);
    const trusted = await call(app.url, 'POST', '/login', { body: { email: user.email, password: PASSWORD }, headers: { cookie, 'x-forwarded-for': fakeIp() } });
    expect(trusted.status).toBe(200);
  });
});

describe.concurrent('failed logins per client IP', () => {
  let app: TestInstance;
  beforeAll(async () => {
    app = await (await testCluster({ limits: loginLimits })).start();
  });

  it('counts failures over many e-mails; other clients are unaffected', async () => {
    const ip = fakeIp();
    for (let i = 0; i < 8; i += 1) expect((await login(app.url, uniqueEmail(), 'wrong password!', ip)).status).toBe(401);
    expectRateLimited(await login(app.url, uniqueEmail(), 'wrong password!', ip), 20);
    expect((await login(app.url, uniqueEmail(), 'wrong password!', fakeIp())).status).toBe(401);
    expect(await metric(app.url, 'login_ip')).toBeGreaterThanOrEqual(1);
  });

  it('successful logins do not count against the client', async () => {
    const user = await registerUser(app.url);
    const ip = fakeIp();
    for (let i = 0; i < 12; i += 1) expect((await login(app.url, user.email, PASSWORD, ip)).status).toBe(200);
  });

  it('IPv6 clients count per /64', async () => {
    for (let i = 0; i < 8; i += 1) expect((await login(app.url, uniqueEmail(), 'wrong password!', `2001:db8:7:1::${i + 1}`)).status).toBe(401);
    expectRateLimited(await login(app.url, uniqueEmail(), 'wrong password!', '2001:db8:7:1:ffff::9'), 20);
    expect((await login(app.url, uniqueEmail(), 'wrong password!', '2001:db8:7:2::1')).status).toBe(401);
  });
});

describe('X-Forwarded-For from an untrusted peer', () => {
  it('is ignored: every request counts for the peer itself', async () => {
    const app = await (
      await testCluster({ server: { trust_proxy: ['10.0.0.0/8'] }, limits: { ...loginLimits, login_ip: { ...loginLimits.login_ip, max: 4 } } })
    ).start();
    for (let i = 0; i < 4; i += 1) expect((await login(app.url, uniqueEmail(), 'wrong password!', fakeIp())).status).toBe(401);
    expectRateLimited(await login(app.url, uniqueEmail(), 'wrong password!', fakeIp()), 20);
  });
});

describe('/register and /refresh per client IP', () => {
  let app: TestInstance;
  beforeAll(async () => {
    app = await (
      await testCluster({ limits: { enabled: true, register_ip: { max: 2, window: '20s' }, refresh_ip: { max: 3, window: '20s' } } })
    ).start();
  });

  it('/register: max per window, then 429 until the window ends', async () => {
    const headers = { 'x-forwarded-for': fakeIp() };
    for (let i = 0; i < 2; i += 1) expect((await call(app.url, 'POST', '/register', { body: { email: uniqueEmail(), password: PASSWORD }, headers })).status).toBe(201);
    expectRateLimited(await call(app.url, 'POST', '/register', { body: { email: uniqueEmail(), password: PASSWORD }, headers }), 20);
    expect((await call(app.url, 'POST', '/register', { body: { email: uniqueEmail(), password: PASSWORD }, headers: { 'x-forwarded-for': fakeIp() } })).status).toBe(201);
    expect(await metric(app.url, 'register_ip')).toBe(1);
  });

  it('/refresh: max per window, then 429', async () => {
    const headers = { 'x-forwarded-for': fakeIp() };
    for (let i = 0; i < 3; i += 1) expect((await call(app.url, 'POST', '/refresh', { body: { refresh_token: 'rt1.forged' }, headers })).status).toBe(401);
    expectRateLimited(await call(app.url, 'POST', '/refresh', { body: { refresh_token: 'rt1.forged' }, headers }), 20);
  });
});

describe('the brute-force limit is global across 3 instances', () => {
  let instances: TestInstance[];
  beforeAll(async () => {
    const cluster = await testCluster({
      limits: { ...loginLimits, login_account: { max: 5, window: '20s', backoff: '10s', max_backoff: '20s' }, login_ip: { max: 9, window: '20s', backoff: '10s' } },
    });
    instances = [await cluster.start(), await cluster.start(), await cluster.start()];
  });

  it('failures spread round-robin over the instances hit the account limit at the same total count', async () => {
    const user = await registerUser(instances[0]?.url ?? '');
    const urls = instances.map((instance) => instance.url);
    for (let i = 0; i < 5; i += 1) expect((await login(urls[i % 3] ?? '', user.email, 'wrong password!', fakeIp())).status).toBe(401);
    for (const url of urls) expectRateLimited(await login(url, user.email, PASSWORD, fakeIp()), 10);
  });

  it('and the client IP limit too', async () => {
    const ip = fakeIp();
    const urls = instances.map((instance) => instance.url);
    for (let i = 0; i < 9; i += 1) expect((await login(urls[i % 3] ?? '', uniqueEmail(), 'wrong password!', ip)).status).toBe(401);
    for (const url of urls) expectRateLimited(await login(url, uniqueEmail(), 'wrong password!', ip), 10);
  });
});
