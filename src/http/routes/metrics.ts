import { Hono } from 'hono';
import type { AppDeps } from '../../app-deps.js';
import type { Metrics } from '../../observability/metrics.js';
import { unmatched } from '../allowed-methods.js';
import type { AppEnv } from '../app-env.js';
import { createErrorHandler } from '../error-handler.js';
import { requestContext } from '../request-context.js';

/** `GET /metrics`: Prometheus text exposition (on the main port, or alone on `server.metrics_port`). */
export function metricsRoutes(metrics: Metrics) {
  return new Hono<AppEnv>().get('/metrics', async (c) => {
    c.header('Content-Type', metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });
}

/**
 * The app of the separate metrics listener (`server.metrics_port`): `/metrics` only, with the
 * same baseline headers and JSON 404/405/500 as the main app (`requestContext`), but no access
 * log or request metric (scrapes would drown them).
 */
export function metricsServerApp({ metrics, instanceId, logger }: Pick<AppDeps, 'metrics' | 'instanceId' | 'logger'>) {
  const app = new Hono<AppEnv>();
  app.use(requestContext(() => {}, instanceId));
  app.route('/', metricsRoutes(metrics));
  app.notFound(unmatched(app));
  app.onError(createErrorHandler(logger, metrics));
  return app;
}
