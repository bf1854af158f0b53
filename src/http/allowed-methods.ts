import type { Context, Hono } from 'hono';
import type { AppEnv } from './app-env.js';
import type { Cors } from './cors.js';
import { errorResponse } from './error-handler.js';

/**
 * Builds, once, a lookup from path to the methods registered for it, so an unknown method
 * on a known path answers 405 with `Allow` instead of 404.
 */
function allowedMethods(app: Hono<AppEnv>) {
  const table: { pattern: RegExp; methods: Set<string> }[] = [];
  for (const route of app.routes) {
    if (route.path === '*' || route.path.endsWith('/*')) continue;
    const source = `^${route.path.replace(/[.]/g, '\\.').replace(/:[^/]+/g, '[^/]+')}$`;
    let entry = table.find((row) => row.pattern.source === source);
    if (!entry) {
      entry = { pattern: new RegExp(source), methods: new Set() };
      table.push(entry);
    }
    entry.methods.add(route.method);
    if (route.method === 'GET') entry.methods.add('HEAD');
  }
  return (path: string): string[] | undefined => {
    const entry = table.find((row) => row.pattern.test(path));
    return entry ? [...entry.methods] : undefined;
  };
}

/**
 * The `notFound` handler: 404 `not_found` for an unknown path; on a known path a CORS
 * preflight from an allowed origin (no route registers OPTIONS, so it lands here) gets 204,
 * and any other method — OPTIONS included when CORS is off or the origin is not listed —
 * 405 `method_not_allowed` with `Allow`. Call after every route is registered.
 */
export function unmatched(app: Hono<AppEnv>, cors?: Cors) {
  const methodsFor = allowedMethods(app);
  return (c: Context<AppEnv>) => {
    const allowed = methodsFor(c.req.path);
    if (!allowed) return errorResponse(c, 'not_found', `no route for ${c.req.path}`);
    const preflight = cors?.preflight(c, allowed);
    if (preflight) return preflight;
    c.header('Allow', allowed.join(', '));
    return errorResponse(c, 'method_not_allowed', `${c.req.method} is not allowed here; use ${allowed.join(' or ')}`);
  };
}
