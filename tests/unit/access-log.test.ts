import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { createAccessLog, FLUSH_CHARS, flushAccessLogs } from '../../src/observability/access-log.js';
import { FLUSH_INTERVAL_MS } from '../../src/observability/logger.js';

function capture(level = 'info') {
  const writes: string[] = [];
  const logger = pino({ level, base: { pid: process.pid, instance: 'replica-1' } }, { write: (chunk: string) => writes.push(chunk) });
  return { writes, log: createAccessLog(logger, 'json') };
}

/** Long enough for a pending flush to have run. */
const afterFlush = () => sleep(FLUSH_INTERVAL_MS * 2);

describe('access log (JSON)', () => {
  test('lines logged together reach the destination as one write, each a pino-shaped JSON line', async () => {
    const { writes, log } = capture();
    log('req-1', 'GET', '/authenticate', 200, 0.123456);
    log('req-2', 'POST', '/login', 401, 12.5);
    expect(writes).toEqual([]);
    await afterFlush();
    expect(writes).toHaveLength(1);
    const lines = (writes[0] as string).split('\n');
    expect(lines.pop()).toBe('');
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toEqual([
      { level: 30, time: expect.any(Number), pid: process.pid, instance: 'replica-1', reqId: 'req-1', method: 'GET', path: '/authenticate', status: 200, ms: 0.12, msg: 'request' },
      { level: 30, time: expect.any(Number), pid: process.pid, instance: 'replica-1', reqId: 'req-2', method: 'POST', path: '/login', status: 401, ms: 12.5, msg: 'request' },
    ]);
  });

  test('a later batch gets its own write; a full batch is written at once; nothing below the info level', async () => {
    const { writes, log } = capture();
    log('a', 'GET', '/ping', 200, 1);
    await afterFlush();
    log('b', 'GET', '/ping', 200, 1);
    await afterFlush();
    expect(writes.map((chunk) => (JSON.parse(chunk) as { reqId: string }).reqId)).toEqual(['a', 'b']);

    const full = capture();
    let logged = 0;
    while (full.writes.length === 0 && logged <= FLUSH_CHARS) {
      full.log(`r${logged}`, 'GET', '/authenticate', 200, 1);
      logged += 1;
    }
    expect((full.writes[0] as string).length).toBeGreaterThanOrEqual(FLUSH_CHARS);
    expect((full.writes[0] as string).split('\n')).toHaveLength(logged + 1);

    // flushAccessLogs (shutdown) hands over what is waiting at once, and the timer has nothing left.
    const stopping = capture();
    stopping.log('s', 'GET', '/ping', 200, 1);
    flushAccessLogs();
    expect(stopping.writes).toHaveLength(1);
    await afterFlush();
    expect(stopping.writes).toHaveLength(1);

    const quiet = capture('warn');
    quiet.log('c', 'GET', '/ping', 200, 1);
    await afterFlush();
    expect(quiet.writes).toEqual([]);
  });
});
