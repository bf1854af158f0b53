import { createMiddleware } from 'hono/factory';
import type { Logger } from 'pino';
import type { AppEnv } from './app-env.js';
import { baseHeaders, requestIdFrom } from './response-headers.js';

/** Writes the one log line of a request. */
export function logRequest(logger: Logger, requestId: string, method: string, path: string, status: number, started: number) {
  logger.info({ reqId: requestId, method, path, status, ms: Math.round((performance.now() - started) * 100) / 100 }, 'request');
}

/**
 * Per request: the request id (echoed), baseline headers, JSON with an explicit charset,
 * and one log line when done.
 */
export function requestContext(logger: Logger, instanceId: string) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const started = performance.now();
    const requestId = requestIdFrom(c.req.header('x-request-id'));
    c.set('requestId', requestId);
    for (const [name, value] of Object.entries(baseHeaders(requestId, instanceId))) c.header(name, value);
    await next();
    if (c.res.headers.get('content-type') === 'application/json') c.res.headers.set('Content-Type', 'application/json; charset=utf-8');
    logRequest(logger, requestId, c.req.method, c.req.path, c.res.status, started);
  });
}
