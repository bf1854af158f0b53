import type { Hono } from 'hono';
import type { AppEnv } from './app-env.js';

/**
 * Builds, once, a lookup from path to the methods registered for it, so an unknown method
 * on a known path answers 405 with `Allow` instead of 404.
 */
export function allowedMethods(app: Hono<AppEnv>) {
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
