import { beforeAll, describe, expect, it } from 'vitest';
import { call, PASSWORD, registerUser, testCluster, type TestInstance } from '../helpers/test-app.js';

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
      expect(response.body).toMatchObject({ error: 'unavailable' });
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
