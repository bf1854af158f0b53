import { pino, type Logger } from 'pino';

/** One finished request, as written to the access log. */
export type AccessLog = (requestId: string, method: string, route: string, status: number, ms: number) => void;

interface Writable {
  write(line: string): unknown;
}

/**
 * The per-request log line. With JSON logs it is formatted by hand and handed to the logger's
 * buffered destination: the fields are known and already safe (a validated request id, a method
 * from Node's parser, a route pattern), so pino's generic serialisation and redaction — a fifth
 * of the CPU of a cached `/authenticate` — are skipped. The line has the same shape as pino's.
 * Lines of one event-loop round go to the destination as one write (one call per line cost ~4 µs,
 * a tenth of a cached `/authenticate`). Text logs go through the logger as usual.
 */
export function createAccessLog(logger: Logger, mode: 'text' | 'json'): AccessLog {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as Writable | undefined;
  if (mode !== 'json' || !stream) {
    return (reqId, method, path, status, ms) => logger.info({ reqId, method, path, status, ms: round(ms) }, 'request');
  }
  const head = `{"level":30,"time":`;
  const pid = `,"pid":${process.pid},"reqId":"`;
  let pending = '';
  const flush = () => {
    stream.write(pending);
    pending = '';
  };
  return (reqId, method, path, status, ms) => {
    if (!logger.isLevelEnabled('info')) return;
    if (pending === '') setImmediate(flush);
    pending += `${head}${Date.now()}${pid}${reqId}","method":"${method}","path":"${path}","status":${status},"ms":${round(ms)},"msg":"request"}\n`;
  };
}

const round = (ms: number) => Math.round(ms * 100) / 100;
