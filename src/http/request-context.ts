import { createMiddleware } from 'hono/factory';
import type { AccessLog } from '../observability/access-log.js';
import type { Metrics } from '../observability/metrics.js';
import type { AppEnv } from './app-env.js';
import { baseHeaders, requestIdFrom } from './response-headers.js';

/** Records a finished request: its duration metric, and its log line unless `logs` says no. */
export type RequestRecorder = (requestId: string, method: string, route: string, status: number, started: number) => void;

export function createRequestRecorder(log: AccessLog, metrics: Metrics, logs: (status: number) => boolean = () => true): RequestRecorder {
  return (requestId, method, route, status, started) => {
    const ms = performance.now() - started;
    metrics.request(route, method, status, ms / 1000);
    if (logs(status)) log(requestId, method, route, status, ms);
  };
}

/**
 * Per request: the request id (echoed), baseline headers, JSON with an explicit charset,
 * `Cache-Control: no-store` unless the route set its own,
 * and the request's log line and metric when done (labelled by route pattern, not raw path).
 */
export function requestContext(record: RequestRecorder, instanceId: string) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const started = performance.now();
    const requestId = requestIdFrom(c.req.header('x-request-id'));
    for (const [name, value] of Object.entries(baseHeaders(requestId, instanceId))) c.header(name, value);
    await next();
    if (c.res.headers.get('content-type') === 'application/json') c.res.headers.set('Content-Type', 'application/json; charset=utf-8');
    // Responses of an auth service carry tokens or personal data: never stored unless a route says otherwise (JWKS).
    if (!c.res.headers.has('cache-control')) c.res.headers.set('Cache-Control', 'no-store');
    const route = c.res.status === 404 ? 'unmatched' : c.req.routePath;
    record(requestId, c.req.method, route, c.res.status, started);
  });
}
