import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from '../config/schema.js';
import { safeError } from './safe-error.js';

/** Anything that may carry a credential is replaced before a line is written. */
const REDACT = [
  'password',
  'current_password',
  'new_password',
  'token',
  'access_token',
  'refresh_token',
  'authorization',
  'cookie',
  '*.password',
  '*.token',
  '*.authorization',
  '*.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
];

/** How often buffered log lines are handed on: the destination's flush, and the access log's batches (access-log.ts). */
export const FLUSH_INTERVAL_MS = 250;

/**
 * Most JSON log bytes held while the output does not take them (a stalled log shipper, a full
 * pipe): beyond it new lines are dropped instead of kept until memory runs out.
 */
export const LOG_BUFFER_MAX_BYTES = 16 * 1024 * 1024;

/** Where JSON lines go: file descriptor `fd`, buffered (4 KiB) and bounded (`LOG_BUFFER_MAX_BYTES`). */
export function jsonDestination(fd: number) {
  return pino.destination({ dest: fd, sync: false, minLength: 4096, maxLength: LOG_BUFFER_MAX_BYTES });
}

/**
 * The service logger: pretty text for people, JSON lines for machines, every JSON line naming
 * its replica (`instance`: `server.instance_id`, as `X-Instance-Id`). JSON lines are buffered
 * (4 KiB, flushed at least every 250 ms and on shutdown) rather than written with one syscall
 * each, and at most 16 MiB are held while stdout blocks.
 */
export function createLogger(config: Config['logging'], instance: string): Logger {
  const options = {
    level: config.level,
    redact: { paths: REDACT, censor: '[redacted]' },
    serializers: { err: safeError },
    base: { pid: process.pid, instance },
  };
  if (config.mode === 'json') {
    const logger = pino(options, jsonDestination(1));
    setInterval(() => logger.flush(), FLUSH_INTERVAL_MS).unref();
    return logger;
  }
  return pino(options, pretty({ colorize: process.stdout.isTTY === true, sync: true, ignore: 'pid,hostname,instance' }));
}
