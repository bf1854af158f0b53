import { execFileSync } from 'node:child_process';
import { constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, onTestFinished, test } from 'vitest';
import { jsonDestination, LOG_BUFFER_MAX_BYTES } from '../../src/observability/logger.js';

/** What a pipe may take before its writer blocks (Linux: 64 KiB by default, 1 MiB at most unprivileged). */
const PIPE_CAPACITY = 1024 * 1024;

test('JSON log lines whose output takes nothing (a stalled reader) are dropped beyond LOG_BUFFER_MAX_BYTES, not kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jwt-log-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'stdout');
  execFileSync('mkfifo', [fifo]);
  // Read-write, so the open does not wait for a reader; nothing ever reads it.
  const destination = jsonDestination(openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK));
  onTestFinished(() => {
    // A write the full pipe refused is retried on a timer, which may meet the closed descriptor.
    destination.on('error', () => {});
    destination.destroy();
  });
  let dropped = 0;
  destination.on('drop', (data: string | Buffer) => (dropped += Buffer.byteLength(data)));

  const line = `${JSON.stringify({ level: 30, msg: 'x'.repeat(1000) })}\n`;
  const lines = Math.ceil((2 * LOG_BUFFER_MAX_BYTES) / line.length);
  for (let i = 0; i < lines; i++) destination.write(line);
  const written = lines * line.length;
  // Held in memory: what was written less what the pipe took and what was dropped.
  expect(dropped).toBeGreaterThan(0);
  expect(written - dropped).toBeLessThanOrEqual(LOG_BUFFER_MAX_BYTES + PIPE_CAPACITY);
});
