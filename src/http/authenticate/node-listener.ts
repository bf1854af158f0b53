import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { requestIdFrom, type RequestId } from '../response-headers.js';
import { failedAnswer, type Authenticate, type AuthenticateAnswer } from './authenticate.js';
import { SPLICES_HEAD, writeAnswer } from './write-answer.js';

/**
 * `/authenticate` and every path below it, with or without a query string: Envoy's `ext_authz`
 * (HTTP service) asks at its `path_prefix` followed by the original request's path
 * (`/authenticate/api/orders` for `/api/orders`). `/authenticated` is not one.
 */
export function isAuthenticatePath(url: string | undefined): boolean {
  if (!url?.startsWith('/authenticate')) return false;
  const next = url[13];
  return next === undefined || next === '/' || next === '?';
}

const single = (value: string | string[] | undefined) => (typeof value === 'string' ? value : undefined);

/**
 * A bug while answering must cost this request (503, fail closed), never the process: an
 * unhandled rejection would end it. Once a head is rendered (`headersSent`, even when not one
 * byte left) the connection is dropped instead: no second head can follow it.
 */
function answerFailed(logger: Logger, response: ServerResponse, error: unknown, reqId: RequestId, failed: AuthenticateAnswer) {
  logger.error({ err: error, reqId }, 'authenticate: the answer could not be written');
  if (response.headersSent) response.destroy();
  else writeAnswer(response, failed, false);
}

/**
 * Serves `/authenticate` straight from Node's request event, ahead of the web framework: no
 * `Request`/`Response` objects, no routing, no middleware — the same answer the Hono route
 * gives, for a fraction of the CPU. Every other path goes to `fallback` (the Hono app).
 */
export function withFastAuthenticate(authenticate: Authenticate, fallback: RequestListener, logger: Logger, instanceId: string): RequestListener {
  const failed = failedAnswer(instanceId);
  if (!SPLICES_HEAD) logger.warn(`authenticate: this Node (${process.version}) does not send a head with lines put in; every header goes through writeHead (~2 µs a request more)`);
  return (request: IncomingMessage, response: ServerResponse) => {
    if (!isAuthenticatePath(request.url)) {
      fallback(request, response);
      return;
    }
    const { headers } = request;
    const requestId = requestIdFrom(single(headers['x-request-id']));
    authenticate({ method: request.method ?? 'GET', authorization: single(headers.authorization), requestId }).then(
      (answer) => {
        try {
          writeAnswer(response, answer);
        } catch (error) {
          answerFailed(logger, response, error, requestId, failed(requestId));
        }
      },
      (error: unknown) => answerFailed(logger, response, error, requestId, failed(requestId)),
    );
  };
}
