import { Hono } from 'hono';
import type { AppDeps } from './app-deps.js';
import { createAccessLog } from './observability/access-log.js';
import type { AppEnv } from './http/app-env.js';
import { createClientIp } from './http/client-ip.js';
import { createCors } from './http/cors.js';
import { createErrorHandler } from './http/error-handler.js';
import { unmatched } from './http/allowed-methods.js';
import { createRequestRecorder, requestContext, type RequestRecorder } from './http/request-context.js';
import { accountRoutes } from './http/routes/account.js';
import { adminRoutes } from './http/routes/admin.js';
import { createAuthenticate, type Authenticate } from './http/authenticate/authenticate.js';
import { authenticateRoute } from './http/authenticate/hono-route.js';
import { credentialRoutes } from './http/routes/credentials.js';
import { healthRoutes } from './http/routes/health.js';
import { jwksRoutes } from './http/routes/jwks.js';
import { metricsRoutes } from './http/routes/metrics.js';
import { sessionTokenRoutes } from './http/routes/session-tokens.js';
import { urlLimit } from './http/url-limit.js';

/** The pieces `createApp` and the Node fast path share (built once per process). */
interface AppParts {
  record: RequestRecorder;
  authenticate: Authenticate;
}

export function createAppParts(deps: AppDeps): AppParts {
  const { logging } = deps.config;
  const log = createAccessLog(deps.logger, logging.mode);
  const record = createRequestRecorder(log, deps.metrics);
  // `/authenticate`'s 200s are logged only if asked for (`logging.authenticate_successes`).
  const recordAuthenticate = logging.authenticate_successes ? record : createRequestRecorder(log, deps.metrics, (status) => status !== 200);
  return { record, authenticate: createAuthenticate(deps, recordAuthenticate) };
}

/** Builds the HTTP application: routes, middleware, error mapping. Starts nothing. */
export function createApp(deps: AppDeps, { record, authenticate }: AppParts = createAppParts(deps)) {
  const clientIp = createClientIp(deps.config.server.trust_proxy);
  const app = new Hono<AppEnv>({ strict: false });
  // The hot path first: it writes its own headers and log line, so no middleware runs for it.
  // (A server built by startServer answers it before Hono even sees the request.) `/*` also
  // matches `/authenticate` and `/authenticate/`: every path below it is the same check
  // (`isAuthenticatePath`), so a gateway never sees a 404 there.
  app.all('/authenticate/*', authenticateRoute(authenticate));
  app.use(requestContext(record, deps.instanceId));
  const cors = createCors(deps.config.server.cors);
  if (cors) app.use(cors.middleware);
  app.use(urlLimit(deps.config.server.max_url_length));
  app.route('/', healthRoutes(deps));
  app.route('/', jwksRoutes(deps));
  app.route('/', credentialRoutes(deps, clientIp));
  app.route('/', sessionTokenRoutes(deps, clientIp));
  app.route('/', accountRoutes(deps, clientIp));
  app.route('/admin', adminRoutes(deps, clientIp, cors));
  if (!deps.config.server.metrics_port) app.route('/', metricsRoutes(deps.metrics));

  app.notFound(unmatched(app, cors));
  app.onError(createErrorHandler(deps.logger, deps.metrics));
  return app;
}
