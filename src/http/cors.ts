import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { Config } from '../config/schema.js';
import type { AppEnv } from './app-env.js';

type CorsConfig = Config['server']['cors'];

/** Request headers a browser may send cross-origin (beyond the CORS-safelisted ones). */
const ALLOW_HEADERS = 'Authorization, Content-Type, X-CSRF-Token, X-Request-Id';
/** Response headers scripts on an allowed origin may read (beyond the safelisted ones). */
const EXPOSE_HEADERS = 'Retry-After, WWW-Authenticate, X-Request-Id';

/** CORS for the API routes, from the `server.cors` allowlist. */
export interface Cors {
  /** Sets the actual-response headers (`Access-Control-Allow-Origin`, …) for an allowed origin. */
  middleware: ReturnType<typeof createMiddleware<AppEnv>>;
  /**
   * Answers a preflight (`OPTIONS` + `Access-Control-Request-Method`) from an allowed origin
   * for a path whose methods are `allowed`; `undefined` when it is not one (the caller answers 405).
   */
  preflight(c: Context<AppEnv>, allowed: readonly string[]): Response | undefined;
}

/**
 * Builds CORS from an explicit allowlist, or `undefined` when `origins` is empty (then no
 * response carries any CORS header). An origin is allowed only by exact match; `"*"` is
 * answered with a literal `*` and never with credentials (the config refuses that pair),
 * so an arbitrary origin is never reflected next to `Access-Control-Allow-Credentials`.
 */
export function createCors({ origins, credentials, max_age: maxAge }: CorsConfig): Cors | undefined {
  if (origins.length === 0) return undefined;
  const anyOrigin = origins.includes('*');
  const listed = new Set(origins);
  const maxAgeSeconds = String(Math.floor(maxAge / 1000));

  /** The `Access-Control-Allow-Origin` value for this request, or `undefined` if not allowed. */
  const allowOrigin = (origin: string | undefined) => {
    if (!origin) return undefined;
    if (anyOrigin) return '*';
    return listed.has(origin) ? origin : undefined;
  };

  const middleware = createMiddleware<AppEnv>(async (c, next) => {
    // The answer depends on Origin, so shared caches must key on it (also when it is refused).
    if (!anyOrigin) c.header('Vary', 'Origin', { append: true });
    const allowed = allowOrigin(c.req.header('origin'));
    if (allowed) {
      c.header('Access-Control-Allow-Origin', allowed);
      if (credentials) c.header('Access-Control-Allow-Credentials', 'true');
      c.header('Access-Control-Expose-Headers', EXPOSE_HEADERS);
    }
    await next();
  });

  const isPreflight = (c: Context<AppEnv>) =>
    c.req.method === 'OPTIONS' && Boolean(c.req.header('access-control-request-method')) && allowOrigin(c.req.header('origin')) !== undefined;

  function preflight(c: Context<AppEnv>, allowed: readonly string[]): Response | undefined {
    if (!isPreflight(c)) return undefined;
    c.header('Access-Control-Allow-Methods', allowed.join(', '));
    c.header('Access-Control-Allow-Headers', ALLOW_HEADERS);
    c.header('Access-Control-Max-Age', maxAgeSeconds);
    c.header('Vary', 'Access-Control-Request-Method, Access-Control-Request-Headers', { append: true });
    return c.body(null, 204);
  }

  return { middleware, preflight };
}
