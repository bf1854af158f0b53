import { createServer, type RequestListener, type Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Logger } from 'pino';
import type { AppDeps } from './app-deps.js';
import { createApp, createAppParts } from './app.js';
import { ConfigError } from './config/loader.js';
import { closeDeps } from './deps.js';
import { withFastAuthenticate } from './http/authenticate/node-listener.js';
import { createClientErrorHandler, createConnectHandler, createRequestErrorResponse } from './http/client-errors.js';
import { metricsServerApp } from './http/routes/metrics.js';

/** `listen` errors of a host that names no address of this machine. */
const HOST_ERRORS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EADDRNOTAVAIL']);

/**
 * Listens on `port` (0: a free one, chosen by the system) and resolves with the port taken. A
 * port that cannot be taken (in use, not permitted) rejects with one line naming the config key,
 * not a stack trace.
 * Later errors of the listener (an accept failing for want of file descriptors) are logged: an
 * error event with no listener would end the process and every request in flight.
 */
function listen(server: Server, port: number, host: string, key: string, logger: Logger): Promise<number> {
  return new Promise((resolve, reject) => {
    const refused = (error: NodeJS.ErrnoException) => {
      // A host that names no address of this machine is the host's fault, not the port's.
      const blamed = error.code !== undefined && HOST_ERRORS.has(error.code) ? 'server.host' : key;
      reject(new ConfigError(`${blamed}: cannot listen on ${host}:${port} (${error.code ?? error.message})`));
    };
    server.once('error', refused);
    server.listen(port, host, () => {
      server.off('error', refused);
      server.on('error', (error) => logger.error({ err: error, listener: key }, 'listener error'));
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/**
 * Answers with `Connection: close` (and Node ends the connection after the answer):
 * - every request while this instance drains (`stopServer`): requests still arriving on a proxy's
 *   pooled connections are answered, and the proxy moves to another replica;
 * - a request carrying `Upgrade` (a WebSocket's, say, forwarded as is by a gateway), which no
 *   `upgrade` listener takes here: where `Connection: upgrade` came with it, Node's parser drops
 *   whatever followed it in the same read (every Node from 20 to 26), so a request pipelined
 *   behind it would never be answered, and its client would wait until `keep_alive_timeout`
 *   closed the connection. After the close, a client resends what it pipelined (RFC 9112 §9.3.2).
 *   An `Upgrade` closes with or without `Connection: upgrade`: one rule, and a rare request.
 */
function closesWhenDue(listener: RequestListener, lifecycle: AppDeps['lifecycle']): RequestListener {
  return (request, response) => {
    if (lifecycle.draining || request.headers.upgrade !== undefined) response.setHeader('Connection', 'close');
    listener(request, response);
  };
}

/** How often Node looks for requests past `server.headers_timeout` / `request_timeout`. */
const TIMEOUT_CHECK_MS = 1_000;

/**
 * A `node:http` server for `listener` whose refusals are the app's JSON errors, not Node's bare ones:
 * - maxHeaderSize bounds the request line plus headers: past it Node's parser refuses the request
 *   (431 from the clientError handler) before any of our code runs, on every path.
 * - Duplicated headers are joined, never reduced to the first: two Authorization headers make one
 *   value that is no token (401), as Hono's routes see them too, whichever one an upstream would read.
 * - An HTTP/1.1 request without Host reaches the app: `/authenticate` answers it like every other
 *   request (gateways get only 200/401/503), and other paths answer 400 `invalid_request` with the
 *   JSON body instead of Node's bare 400 (HTTP/1.0: see `honoListener`).
 * - An `Expect` other than 100-continue is ignored, as RFC 9110 §10.1.1 allows, instead of Node's
 *   bodiless 417: the request is answered as if it had none.
 * - CONNECT, which Node hands to its own event, is answered (not closed without a word).
 * - A request asking to upgrade the connection is answered like the rest, then the connection
 *   closes, as does every connection while the instance drains (`closesWhenDue`).
 * - A request must arrive within `server.headers_timeout` (line and headers) and
 *   `request_timeout` (the whole), else 408, checked every `TIMEOUT_CHECK_MS`.
 */
function hardenedServer(listener: RequestListener, { config: { server: config }, instanceId, lifecycle }: AppDeps): Server {
  const handle = closesWhenDue(listener, lifecycle);
  const server = createServer(
    {
      maxHeaderSize: config.max_header_size,
      joinDuplicateHeaders: true,
      requireHostHeader: false,
      // Node's default, 30 s, let a 30 s timeout run to 60.
      connectionsCheckingInterval: TIMEOUT_CHECK_MS,
      headersTimeout: config.headers_timeout,
      requestTimeout: config.request_timeout,
    },
    handle,
  );
  // Node's idle keep-alive must outlive the proxy's (nginx keepalive_timeout 60s), or the
  // proxy may reuse a connection Node is closing and see a 502.
  server.keepAliveTimeout = config.keep_alive_timeout;
  server.on('clientError', createClientErrorHandler(instanceId));
  server.on('connect', createConnectHandler(instanceId));
  server.on('checkExpectation', handle);
  return server;
}

/**
 * Node's listener for a Hono app, its failures answered as JSON errors. Hono needs a Host to build
 * the request's URL, but HTTP/1.0 has no Host requirement and an empty Host is valid HTTP/1.1 (RFC
 * 9112 §3.2): such a request (a load balancer's health check, say) is answered as if it named
 * `localhost`. Only a Host missing from HTTP/1.1 is refused (400).
 */
function honoListener(app: { fetch: Parameters<typeof getRequestListener>[0] }, deps: AppDeps): RequestListener {
  const listener = getRequestListener(app.fetch, { errorHandler: createRequestErrorResponse(deps.instanceId, deps.logger) });
  return (request, response) => {
    const { host } = request.headers;
    if (host === '' || (host === undefined && request.httpVersion === '1.0')) request.headers.host = 'localhost';
    return listener(request, response);
  };
}

/** Starts the HTTP listener for `deps`; resolves once it accepts connections. */
export async function startServer(deps: AppDeps): Promise<{ server: Server; port: number }> {
  const { server: config } = deps.config;
  const parts = createAppParts(deps);
  const app = createApp(deps, parts);
  const server = hardenedServer(withFastAuthenticate(parts.authenticate, honoListener(app, deps), deps.logger, deps.instanceId), deps);
  const port = await listen(server, config.port, config.host, 'server.port', deps.logger);
  return { server, port };
}

/** `server.metrics_port` set: `/metrics` alone on its own listener (e.g. reachable only from inside the cluster). */
export async function startMetricsServer(deps: AppDeps): Promise<Server | undefined> {
  const { metrics_port: port, host } = deps.config.server;
  if (!port) return undefined;
  const server = hardenedServer(honoListener(metricsServerApp(deps), deps), deps);
  await listen(server, port, host, 'server.metrics_port', deps.logger);
  return server;
}

/**
 * How long after the listener closes a stop starts closing idle connections. Closing one races a
 * request the proxy may be writing onto it, which it cannot retry if it is a POST (nginx answers
 * 502). Meanwhile the proxy either uses its pooled connections (each ends after its answer) or,
 * finding the listener closed, marks this replica down; a connection just accepted gets its
 * request read. (SIGTERM of one of 3 instances under POST load through nginx: 0 failed requests
 * in 6 rounds, where closing them at once failed up to 10 of 16,000–36,000 requests in 4 of 6.)
 */
const IDLE_CLOSE_AFTER_MS = 500;

/**
 * Graceful stop: readiness turns 503, the listener stops accepting, in-flight requests get up to
 * `grace` ms, queued audit events are written (bounded), then the stores close. Requests that
 * still arrive on open keep-alive connections (a proxy's pool) are answered with `Connection:
 * close`, so the proxy moves to another replica and the drain ends as soon as the last response
 * is out; idle connections close `IDLE_CLOSE_AFTER_MS` after the listener.
 */
export async function stopServer(server: Server, deps: AppDeps, grace: number) {
  deps.lifecycle.draining = true; // from now on every answer closes its connection (closesWhenDue)
  // The listener alone: http.Server's close() would also close the idle connections at once.
  const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
  // Later, the idle connections, then each connection that turns idle once its in-flight response
  // is out. Not http.Server's close(), which would also stop Node's connection-checking timer: a
  // request still arriving too slowly would then get no 408 and hold the drain until `grace`.
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = setTimeout(
    () => {
      server.closeIdleConnections();
      sweeper = setInterval(() => server.closeIdleConnections(), 100);
    },
    Math.min(IDLE_CLOSE_AFTER_MS, grace / 2),
  );
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, grace);
  });
  await Promise.race([closed, deadline]);
  clearTimeout(timer);
  clearTimeout(sweep);
  clearInterval(sweeper);
  server.close(); // Node's connection-checking timer
  await closeDeps(deps);
}
