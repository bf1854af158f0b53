import { randomUUID } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import type { Logger } from 'pino';
import type { AppEnv } from './app-env.js';

const SAFE_REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Per request: honours a well-formed `X-Request-Id` (or makes one) and echoes it, sets the
 * baseline security headers and `X-Instance-Id`, and writes one log line when done.
 */
export function requestContext(logger: Logger, instanceId: string) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const started = performance.now();
    const given = c.req.header('x-request-id');
    const requestId = given && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
    c.set('requestId', requestId);
    await next();
    const headers = c.res.headers;
    if (headers.get('content-type') === 'application/json') headers.set('Content-Type', 'application/json; charset=utf-8');
    headers.set('X-Request-Id', requestId);
    headers.set('X-Instance-Id', instanceId);
    headers.set('X-Content-Type-Options', 'nosniff');
    headers.set('X-Frame-Options', 'DENY');
    headers.set('Referrer-Policy', 'no-referrer');
    logger.info(
      { reqId: requestId, method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round((performance.now() - started) * 100) / 100 },
      'request',
    );
  });
}
