import { Hono } from 'hono';
import type { AppDeps } from './app-deps.js';
import type { AppEnv } from './http/app-env.js';
import { createClientIp } from './http/client-ip.js';
import { createErrorHandler, errorResponse } from './http/error-handler.js';
import { allowedMethods } from './http/allowed-methods.js';
import { createRequestRecorder, requestContext } from './http/request-context.js';
import { accountRoutes } from './http/routes/account.js';
import { authenticateHandler } from './http/routes/authenticate.js';
import { credentialRoutes } from './http/routes/credentials.js';
import { healthRoutes } from './http/routes/health.js';
import { jwksRoutes } from './http/routes/jwks.js';
import { metricsRoutes } from './http/routes/metrics.js';
import { sessionTokenRoutes } from './http/routes/session-tokens.js';

/** Builds the HTTP application: routes, middleware, error mapping. Starts nothing. */
export function createApp(deps: AppDeps) {
  const clientIp = createClientIp(deps.config.server.trust_proxy);
  // strict: false — `/authenticate/` is `/authenticate` (gateways must never see a 404 there).
  const app = new Hono<AppEnv>({ strict: false });
  const record = createRequestRecorder(deps.logger, deps.metrics);
  // The hot path first: it writes its own headers and log line, so no middleware runs for it.
  app.all('/authenticate', authenticateHandler(deps, record));
  app.use(requestContext(record, deps.instanceId));
  app.route('/', healthRoutes(deps));
  app.route('/', jwksRoutes(deps));
  app.route('/', credentialRoutes(deps, clientIp));
  app.route('/', sessionTokenRoutes(deps));
  app.route('/', accountRoutes(deps));
  if (!deps.config.server.metrics_port) app.route('/', metricsRoutes(deps.metrics));

  const methodsFor = allowedMethods(app);
  app.notFound((c) => {
    const allowed = methodsFor(c.req.path);
    if (!allowed) return errorResponse(c, 'not_found', `no route for ${c.req.path}`);
    c.header('Allow', allowed.join(', '));
    return errorResponse(c, 'method_not_allowed', `${c.req.method} is not allowed here; use ${allowed.join(' or ')}`);
  });
  app.onError(createErrorHandler(deps.logger, deps.metrics));
  return app;
}
