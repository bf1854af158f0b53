import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDatabase, testRedisUrl, uniquePrefix } from '../helpers/services.js';

describe('test services', () => {
  const redis = new Redis(testRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });

  afterAll(async () => {
    await redis.quit();
  });

  it('provides a Redis that answers PING and never evicts keys', async () => {
    expect(await redis.ping()).toBe('PONG');
    expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
  });

  it('hands out distinct Redis key prefixes', () => {
    const a = uniquePrefix();
    const b = uniquePrefix();
    expect(a).toMatch(/^t[0-9a-f]+:$/);
    expect(a).not.toBe(b);
  });

  it('creates an isolated, usable database per call', async () => {
    const urls = await Promise.all([freshDatabase(), freshDatabase()]);
    expect(new Set(urls).size).toBe(2);

    for (const url of urls) {
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      try {
        const rows = await sql<{ one: number; db: string }[]>`select 1 as one, current_database() as db`;
        expect(rows[0]?.one).toBe(1);
        expect(url.endsWith(`/${rows[0]?.db ?? ''}`)).toBe(true);
      } finally {
        await sql.end({ timeout: 5 });
      }
    }
  });
});
