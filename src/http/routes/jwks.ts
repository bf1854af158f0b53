import { Hono } from 'hono';
import type { AppDeps } from '../../app-deps.js';
import type { AppEnv } from '../app-env.js';

/** The public key set for verifiers (RFC 7517); empty for HS256. */
export function jwksRoutes(deps: AppDeps) {
  const body = JSON.stringify(deps.keyRing.jwks);
  return new Hono<AppEnv>().get('/.well-known/jwks.json', (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    c.header('Content-Type', 'application/json; charset=utf-8');
    return c.body(body);
  });
}
