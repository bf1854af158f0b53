import { setImmediate as nextRound } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { createAccessLog } from '../../src/observability/access-log.js';

function capture(level = 'info') {
  const writes: string[] = [];
  const logger = pino({ level, base: { pid: process.pid } }, { write: (chunk: string) => writes.push(chunk) });
  return { writes, log: createAccessLog(logger, 'json') };
}

describe('access log (JSON)', () => {
  test('lines of one event-loop round reach the destination as one write, each a pino-shaped JSON line', async () => {
    const { writes, log } = capture();
    log('req-1', 'GET', '/authenticate', 200, 0.123456);
    log('req-2', 'POST', '/login', 401, 12.5);
    expect(writes).toEqual([]);
    await nextRound();
    expect(writes).toHaveLength(1);
    const lines = (writes[0] as string).split('\n');
    expect(lines.pop()).toBe('');
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toEqual([
      { level: 30, time: expect.any(Number), pid: process.pid, reqId: 'req-1', method: 'GET', path: '/authenticate', status: 200, ms: 0.12, msg: 'request' },
      { level: 30, time: expect.any(Number), pid: process.pid, reqId: 'req-2', method: 'POST', path: '/login', status: 401, ms: 12.5, msg: 'request' },
    ]);
  });

  test('a later round gets its own write; nothing is written below the info level', async () => {
    const { writes, log } = capture();
    log('a', 'GET', '/ping', 200, 1);
    await nextRound();
    log('b', 'GET', '/ping', 200, 1);
    await nextRound();
    expect(writes.map((chunk) => (JSON.parse(chunk) as { reqId: string }).reqId)).toEqual(['a', 'b']);

    const quiet = capture('warn');
    quiet.log('c', 'GET', '/ping', 200, 1);
    await nextRound();
    expect(quiet.writes).toEqual([]);
  });
});
