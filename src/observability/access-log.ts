import { pino, type Logger } from 'pino';
import { FLUSH_INTERVAL_MS } from './logger.js';

/** One finished request, as written to the access log. */
export type AccessLog = (requestId: string, method: string, route: string, status: number, ms: number) => void;

interface Writable {
  write(line: string): unknown;
}

/**
 * Lines are written at the latest `FLUSH_INTERVAL_MS` after the first of them was logged (the
 * logger's own flush interval), or at once when this many characters are waiting: under
 * saturation these fill first (every ~10 ms). At a paced 1,000 req/s a 10 ms timer woke the
 * event loop 100 times a second and the destination wrote its 4 KiB every ~27 ms; at 250 ms
 * both happen ~5 times a second (server CPU −12%, A/B of 4 × 10 s; logins during a login storm
 * +2 to +5 points of argon2 alone, 3 storms each). The logger's destination may hold a batch up
 * to 250 ms more (its 4 KiB buffer), so a line reaches stdout within about 500 ms; a process
 * killed outright (SIGKILL, out of memory) loses the lines of that last half second, as it loses
 * the logger's own.
 */
export const FLUSH_CHARS = 32_768;

/** Flushes of access logs holding lines not yet written: run at exit, so nothing pending is lost. */
const unflushed = new Set<() => void>();

/** Hands every access line still waiting to its logger's destination (at shutdown, before the logger is flushed). */
export function flushAccessLogs(): void {
  for (const flush of unflushed) flush();
}
// Registered when this module is first imported, before any logger exists, so it runs before
// pino's own flush at exit and the lines it hands over are written with the rest.
process.on('exit', flushAccessLogs);

/**
 * The per-request log line. With JSON logs it is formatted by hand and handed to the logger's
 * buffered destination: the fields are known and already safe (a validated request id, a method
 * from Node's parser, a route pattern), so pino's generic serialisation and redaction — a fifth
 * of the CPU of a cached `/authenticate` — are skipped. The line has the same shape as pino's.
 * Lines are gathered for up to `FLUSH_INTERVAL_MS` (or `FLUSH_CHARS`) and handed over as one: each
 * hand-over is an asynchronous write on libuv's thread pool, whose thread switches cost the event
 * loop's core far more than the bytes do. Per event-loop round → every 2 ms / 16 KiB: exact
 * 32.5 → 29.7 µs per request; 2 ms / 16 KiB → 10 ms / 32 KiB: exact 32.2 → 29.9 µs (+7.7% req/s),
 * cached +7% (A/B, medians of 8; with no access log at all, cached was 5% faster still). Other
 * log lines may therefore precede access lines of the last 250 ms; every line carries its own
 * time. Lines still waiting at shutdown are handed over by `flushAccessLogs` (and at exit). Text
 * logs go through the logger as usual.
 */
export function createAccessLog(logger: Logger, mode: 'text' | 'json'): AccessLog {
  const internals = logger as unknown as Record<symbol, unknown>;
  const stream = internals[pino.symbols.streamSym] as Writable | undefined;
  if (mode !== 'json' || !stream) {
    return (reqId, method, path, status, ms) => logger.info({ reqId, method, path, status, ms: round(ms) }, 'request');
  }
  const head = `{"level":30,"time":`;
  // The logger's own fields (pid, instance), as pino writes them.
  const bindings = `${String(internals[pino.symbols.chindingsSym] ?? '')},"reqId":"`;
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    unflushed.delete(flush);
    const lines = pending;
    pending = '';
    if (lines !== '') stream.write(lines);
  };
  return (reqId, method, path, status, ms) => {
    if (!logger.isLevelEnabled('info')) return;
    if (pending === '') {
      timer = setTimeout(flush, FLUSH_INTERVAL_MS);
      unflushed.add(flush);
    }
    pending += `${head}${Date.now()}${bindings}${reqId}","method":"${method}","path":"${path}","status":${status},"ms":${round(ms)},"msg":"request"}\n`;
    if (pending.length >= FLUSH_CHARS) flush();
  };
}

const round = (ms: number) => Math.round(ms * 100) / 100;
