import { Hono } from 'hono';
import type { Metrics } from '../../observability/metrics.js';

/** `GET /metrics`: Prometheus text exposition (on the main port, or alone on `server.metrics_port`). */
export function metricsRoutes(metrics: Metrics) {
  return new Hono().get('/metrics', async (c) => {
    c.header('Content-Type', metrics.registry.contentType);
    c.header('Cache-Control', 'no-store');
    return c.body(await metrics.registry.metrics());
  });
}
