import { describe, expect, it } from 'vitest';
import { redisVersion } from '../../src/sessions/redis-connection.js';

/** The start-up check refuses a Redis older than 7.0 (the revoking scripts' `allow-oom` flag needs 7.0). */
describe('redisVersion (INFO server)', () => {
  it('reads the major version and the whole version text', () => {
    expect(redisVersion('# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n')).toEqual({ major: 7, text: '7.0.15' });
    expect(redisVersion('# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n')).toEqual({ major: 6, text: '6.2.14' });
    // Valkey keeps the Redis version it is compatible with in redis_version.
    expect(redisVersion('# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1\r\n')).toEqual({ major: 7, text: '7.2.4' });
  });

  it('answers undefined when the field is missing or not a version', () => {
    expect(redisVersion('# Server\r\nredis_mode:standalone\r\n')).toBeUndefined();
    expect(redisVersion('redis_version:unknown\r\n')).toBeUndefined();
    expect(redisVersion('')).toBeUndefined();
  });
});
