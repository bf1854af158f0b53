import { createMiddleware } from 'hono/factory';
import type { AppEnv } from './app-env.js';
import { AppError } from '../errors.js';

/** Length of the request target (path + query) of an absolute URL. */
function targetLength(url: string): number {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  return start === -1 ? 0 : url.length - start;
}

/**
 * 414 `uri_too_long` for a request target (path + query) over `maxLength` bytes, before any
 * route parses it. (Node itself answers 431 once the request line and headers together pass
 * `server.max_header_size`.)
 */
export function urlLimit(maxLength: number) {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (targetLength(c.req.url) > maxLength) throw new AppError('uri_too_long', `the URL is longer than ${maxLength} bytes`);
    await next();
  });
}
