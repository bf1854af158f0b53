import { describe, expect, it } from 'vitest';
import { createRequestRecorder } from '../../src/http/request-context.js';
import { createMetrics } from '../../src/observability/metrics.js';

describe('request recorder', () => {
  it('counts every request in the duration metric and logs only those `logs` accepts', async () => {
    const metrics = createMetrics({ queueDepth: () => 0 });
    const lines: string[] = [];
    const record = createRequestRecorder((requestId, _method, _route, status) => lines.push(`${requestId} ${status}`), metrics, (status) => status !== 200);
    const started = performance.now();
    record('a', 'GET', '/authenticate', 200, started);
    record('b', 'GET', '/authenticate', 401, started);
    record('c', 'GET', '/authenticate', 503, started);
    expect(lines).toEqual(['b 401', 'c 503']);
    const text = await metrics.registry.metrics();
    for (const status of ['200', '401', '503']) {
      expect(text).toMatch(new RegExp(`_count\\{[^}]*route="/authenticate"[^}]*status="${status}"[^}]*\\} 1$`, 'm'));
    }
  });

  it('logs every request by default', () => {
    const lines: number[] = [];
    const record = createRequestRecorder((_id, _method, _route, status) => lines.push(status), createMetrics({ queueDepth: () => 0 }));
    record('a', 'GET', '/me', 200, performance.now());
    expect(lines).toEqual([200]);
  });
});
