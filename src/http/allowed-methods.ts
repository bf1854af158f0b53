import type { Context, Hono } from 'hono';
import type { AppEnv } from './app-env.js';
import type { Cors } from './cors.js';
import { errorResponse } from './error-handler.js';

/**
 * Builds, once, a lookup from path to the methods registered for it, so an unknown method
 * on a known path answers 405 with `Allow` instead of 404: every route whose path matches
 * counts (`/sessions/:id` and a literal `/sessions/current` both match `/sessions/current`).
 */
function allowedMethods(app: Hono<AppEnv>) {
  const table = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  for (const route of app.routes) {
    if (route.path === '*' || route.path.endsWith('/*')) continue;
    let entry = table.get(route.path);
    if (!entry) {
      const pattern = new RegExp(`^${route.path.replace(/[.]/g, '\\.').replace(/:[^/]+/g, '[^/]+')}$`);
      table.set(route.path, (entry = { pattern, methods: new Set() }));
    }
    entry.methods.add(route.method);
    if (route.method === 'GET') entry.methods.add('HEAD');
  }
  const rows = [...table.values()];
  return (path: string): string[] | undefined => {
    const methods = new Set(rows.flatMap((row) => (row.pattern.test(path) ? [...row.methods] : [])));
    return methods.size > 0 ? [...methods] : undefined;
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
    const choices = allowed.length > 1 ? `${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}` : allowed.join('');
    return errorResponse(c, 'method_not_allowed', `${c.req.method} is not allowed here; use ${choices}`);
  };
}
