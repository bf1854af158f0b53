import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { routePath } from 'hono/route';
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
 * The route pattern a request matched (`/sessions/:id`), whether its handler answered (a 404 for
 * another user's session included) or a middleware did first (401 on an admin route);
 * `unmatched` when only middleware (`*`, `/admin/*`) matched: an unknown path or method. The
 * label's values are the app's routes, never raw paths.
 */
function routeLabel(c: Context<AppEnv>): string {
  const route = routePath(c, -1);
  return route === '*' || route.endsWith('/*') ? 'unmatched' : route;
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
    record(requestId, c.req.method, routeLabel(c), c.res.status, started);
  });
}
