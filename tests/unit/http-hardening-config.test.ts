import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';

const server = (values: Record<string, unknown>) => configSchema.safeParse({ server: values });
const firstIssue = (values: Record<string, unknown>) => {
  const result = server(values);
  expect(result.success).toBe(false);
  return result.error?.issues[0];
};

describe('server size limits and CORS config', () => {
  it('defaults: 16 KiB of headers, 4096-byte URLs, no CORS', () => {
    const { server: defaults } = configSchema.parse({});
    expect(defaults.max_header_size).toBe(16 * 1024);
    expect(defaults.max_url_length).toBe(4096);
    expect(defaults.cors).toEqual({ origins: [], credentials: false, max_age: 600_000 });
  });

  it('accepts exact origins, and "*" only without credentials', () => {
    expect(server({ cors: { origins: ['https://app.example.com', 'http://localhost:3000', 'http://[::1]:8080'], credentials: true } }).success).toBe(true);
    expect(server({ cors: { origins: ['*'] } }).success).toBe(true);
    expect(firstIssue({ cors: { origins: ['*'], credentials: true } })?.message).toContain('cannot be combined with credentials');
  });

  it.each(['https://app.example.com/', 'https://app.example.com/path', 'app.example.com', 'https://*.example.com', 'HTTPS://APP.example.com', 'null', ''])(
    'refuses %j as an origin',
    (origin) => {
      expect(firstIssue({ cors: { origins: [origin] } })?.path).toEqual(['server', 'cors', 'origins', 0]);
    },
  );

  it('bounds max_header_size and max_url_length', () => {
    expect(configSchema.parse({ server: { max_header_size: '64kb' } }).server.max_header_size).toBe(64 * 1024);
    expect(firstIssue({ max_header_size: '100b' })?.path).toEqual(['server', 'max_header_size']);
    expect(firstIssue({ max_header_size: '2mb' })?.path).toEqual(['server', 'max_header_size']);
    expect(firstIssue({ max_url_length: 10 })?.path).toEqual(['server', 'max_url_length']);
  });
});
