import { describe, expect, it } from 'vitest';
import { parseCacheEntries } from '../../bench/soak/caches.js';

describe('the soak’s cache entries', () => {
  it('reads each jwt_cache_entries series from a /metrics text, and nothing else', () => {
    const metrics = [
      '# HELP jwt_cache_entries Entries in each cache',
      '# TYPE jwt_cache_entries gauge',
      'jwt_cache_entries{cache="access_tokens"} 3412',
      'jwt_cache_entries{cache="session_salts"} 2401',
      'jwt_audit_queue_depth 0',
      'nodejs_heap_size_used_bytes 26617000',
    ].join('\n');
    expect(parseCacheEntries(metrics)).toEqual({ access_tokens: 3412, session_salts: 2401 });
    expect(parseCacheEntries('')).toEqual({});
  });
});
