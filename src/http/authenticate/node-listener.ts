import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { UNAVAILABLE_ANSWER, type Authenticate } from './decide.js';
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
function answerFailed(logger: Logger, response: ServerResponse, error: unknown) {
  logger.error({ err: error }, 'authenticate: the answer could not be written');
  if (response.headersSent) response.destroy();
  else writeAnswer(response, UNAVAILABLE_ANSWER, false);
}

/**
 * Serves `/authenticate` straight from Node's request event, ahead of the web framework: no
 * `Request`/`Response` objects, no routing, no middleware — the same answer the Hono route
 * gives, for a fraction of the CPU. Every other path goes to `fallback` (the Hono app).
 */
export function withFastAuthenticate(authenticate: Authenticate, fallback: RequestListener, logger: Logger): RequestListener {
  if (!SPLICES_HEAD) logger.warn(`authenticate: this Node (${process.version}) does not send a head with lines put in; every header goes through writeHead (~2 µs a request more)`);
  return (request: IncomingMessage, response: ServerResponse) => {
    if (!isAuthenticatePath(request.url)) {
      fallback(request, response);
      return;
    }
    const { headers } = request;
    authenticate({
      method: request.method ?? 'GET',
      authorization: single(headers.authorization),
      requestId: single(headers['x-request-id']),
    }).then(
      (answer) => {
        try {
          writeAnswer(response, answer);
        } catch (error) {
          answerFailed(logger, response, error);
        }
      },
      (error: unknown) => answerFailed(logger, response, error),
    );
  };
}
