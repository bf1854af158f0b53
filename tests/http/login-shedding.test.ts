import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, PASSWORD, registerUser, testCluster, uniqueEmail, type TestInstance } from '../helpers/test-app.js';
import { accountSubject } from '../../src/security/device-token.js';
import { monitorRedis, type RedisMonitor } from '../helpers/redis-monitor.js';
import { testRedisUrl } from '../helpers/services.js';

/** One sample of a Prometheus counter from `/metrics`, 0 when the series is absent. */
async function counter(base: string, series: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((entry) => entry.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('a login storm beyond the argon2 queue', () => {
  let app: TestInstance;
  beforeAll(async () => {
    const cluster = await testCluster({ passwords: { hash_concurrency: 1 } });
    app = await cluster.start();
  });

  it('sheds the excess with 503 + Retry-After, serves the rest, and counts the refusals as logins, not as dependency errors', async () => {
    const user = await registerUser(app.url);
    // 1 running + 64 waiting is the most the hasher holds; 120 at once must overflow it.
    const responses = await Promise.all(
      Array.from({ length: 120 }, () => call(app.url, 'POST', '/login', { body: { email: user.email, password: PASSWORD } })),
    );
    const shed = responses.filter((response) => response.status === 503);
    const served = responses.filter((response) => response.status === 200);
    expect(shed.length + served.length).toBe(120);
    expect(shed.length).toBeGreaterThan(0);
    expect(served.length).toBeGreaterThanOrEqual(65);
    for (const response of shed) {
      // The description tells shedding from an outage (k6/login-storm.js relies on it).
      expect(response.body).toEqual({ error: 'unavailable', error_description: 'too many password checks in progress, retry shortly' });
      expect(response.headers.get('retry-after')).toBe('1');
    }
    expect(await counter(app.url, 'jwt_login_total{outcome="unavailable"}')).toBe(shed.length);
    expect(await counter(app.url, 'jwt_password_hash_rejected_total')).toBe(shed.length);
    expect(await counter(app.url, 'jwt_dependency_errors_total{dependency="database"}')).toBe(0);
    expect(await counter(app.url, 'jwt_dependency_errors_total{dependency="cache"}')).toBe(0);
    // The storm is over: the next login is served.
    expect((await call(app.url, 'POST', '/login', { body: { email: user.email, password: PASSWORD } })).status).toBe(200);
  });
});

describe('shedding comes before the brute-force limits', () => {
  let app: TestInstance;
  let prefix: string;
  let monitor: RedisMonitor;

  beforeAll(async () => {
    const cluster = await testCluster({
      passwords: { hash_concurrency: 1 },
      // High enough that nothing locks during the storms: every counted attempt is one script call.
      limits: { enabled: true, login_ip: { max: 100_000 }, login_account: { max: 100_000 }, register_ip: { max: 4, window: '1h' } },
    });
    prefix = cluster.config.cache.key_prefix;
    app = await cluster.start();
    monitor = await monitorRedis(testRedisUrl());
  });
  afterAll(() => monitor.close());

  /** Whether a place is left in the argon2 queue (one taken to look is given back at once). */
  function hasRoom(): boolean {
    try {
      app.deps.hasher.reserve().release();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Keeps the argon2 queue full (one running, 64 waiting or held) with 100 clients logging in to
   * unknown accounts until `stop` is called, which resolves once they have all stopped.
   */
  async function fullQueue(): Promise<{ stop(): Promise<void> }> {
    let running = true;
    const clients = Array.from({ length: 100 }, async () => {
      while (running) await call(app.url, 'POST', '/login', { body: { email: uniqueEmail(), password: PASSWORD } });
    });
    const deadline = Date.now() + 10_000;
    while (hasRoom()) {
      if (Date.now() > deadline) throw new Error('the argon2 queue never filled');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return {
      async stop() {
        running = false;
        await Promise.all(clients);
      },
    };
  }

  it('a login refused for load is not counted: its account\'s counter is never touched', async () => {
    const storm = await fullQueue();
    const probes = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const email = uniqueEmail();
        return { email, status: (await call(app.url, 'POST', '/login', { body: { email, password: PASSWORD } })).status };
      }),
    );
    await storm.stop();
    await monitor.mark('storm over');
    const refused = probes.filter((probe) => probe.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    expect(probes.every((probe) => probe.status === 503 || probe.status === 401)).toBe(true);
    const countedFor = (email: string) => monitor.commands.some((args) => args.some((arg) => arg.startsWith(`${prefix}{rl:`) && arg.endsWith(accountSubject(email))));
    // Before, every refused probe had been counted, then refunded (two script calls on its account's counter).
    expect(refused.filter((probe) => countedFor(probe.email))).toEqual([]);
    // The same match finds an attempt that was counted: a failed login once the queue has room.
    const counted = uniqueEmail();
    expect((await call(app.url, 'POST', '/login', { body: { email: counted, password: PASSWORD } })).status).toBe(401);
    await monitor.mark('counted login');
    expect(countedFor(counted)).toBe(true);
  });

  it('a registration refused for load leaves the client its registrations', async () => {
    const storm = await fullQueue();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(app.url, 'POST', '/register', { body: { email: uniqueEmail(), password: PASSWORD } })).status);
    await storm.stop();
    // Before: all five were counted, and register_ip (4 an hour) refused the fifth with 429.
    expect(statuses.every((status) => status === 503 || status === 201)).toBe(true);
    const admitted = statuses.filter((status) => status === 201).length;
    expect(admitted).toBeLessThan(4);
    for (let i = admitted; i < 4; i++) expect((await call(app.url, 'POST', '/register', { body: { email: uniqueEmail(), password: PASSWORD } })).status).toBe(201);
    expect((await call(app.url, 'POST', '/register', { body: { email: uniqueEmail(), password: PASSWORD } })).status).toBe(429);
  });
});
