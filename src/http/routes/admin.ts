import { type Context, Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { z } from 'zod';
import {
  ADMIN_ROLE,
  adminUserView,
  disableUser,
  enableUser,
  getUser,
  getUserByEmail,
  listUserSessions,
  revokeUserSession,
  revokeUserSessions,
  setUserRoles,
  type Actor,
} from '../../admin/users.js';
import type { AppDeps } from '../../app-deps.js';
import { canonicalCase } from '../../util/uuid.js';
import { requireAccessToken } from '../access-token-auth.js';
import type { AppEnv } from '../app-env.js';
import type { ClientIp } from '../client-ip.js';
import type { Cors } from '../cors.js';
import { AppError } from '../../errors.js';
import { readJson } from '../json-body.js';
import { auditClientOf } from '../session-meta.js';
import { sessionView } from '../session-view.js';

/** The list only: `setUserRoles` checks each role and the count once duplicates are dropped (`parseRoles`). */
const rolesBody = z.object({ roles: z.array(z.string()) });

/** Every method the admin routes answer, named alike by every admin preflight. */
const ADMIN_METHODS = ['GET', 'POST', 'PUT', 'DELETE'];

/**
 * `/admin/…`: account controls for users whose access token carries the `admin` role.
 * Roles in a token are those of a live session, and any role change ends the user's sessions,
 * so the token's roles are current; no database read is needed to authorise.
 */
export function adminRoutes(deps: AppDeps, clientIp: ClientIp, cors: Cors | undefined) {
  const limit = deps.config.server.body_limit;
  const adminOnly = createMiddleware<AppEnv>(async (c, next) => {
    if (!c.var.claims.roles.includes(ADMIN_ROLE)) throw new AppError('forbidden', 'the admin role is required');
    await next();
  });
  const actor = (c: Context<AppEnv>): Actor => ({ userId: c.var.claims.userId, ...auditClientOf(c, clientIp) });
  const userIdOf = (c: Context) => canonicalCase(c.req.param('id') ?? '');
  // A CORS preflight from an allowed origin carries no token (browsers send none): every path
  // here gets the same 204 naming every method of these routes, so a preflight tells nothing of
  // which paths exist. Any other request, OPTIONS included, needs the admin token first.
  const preflight = createMiddleware<AppEnv>(async (c, next) => {
    const answer = cors?.preflight(c, ADMIN_METHODS);
    if (answer) return answer;
    await next();
  });

  return new Hono<AppEnv>()
    .use(preflight, requireAccessToken(deps.accessTokens, deps.sessions), adminOnly)
    .get('/users', async (c) => {
      const [email, ...more] = c.req.queries('email') ?? [];
      if (!email) throw new AppError('invalid_request', 'email: the query parameter is required (GET /admin/users?email=…)');
      // As a form field given twice: which one a proxy or log reads is anyone's guess.
      if (more.length > 0) throw new AppError('invalid_request', 'email: given more than once');
      return c.json(adminUserView(await getUserByEmail(deps, email)));
    })
    .get('/users/:id', async (c) => c.json(adminUserView(await getUser(deps, userIdOf(c)))))
    .post('/users/:id/disable', async (c) => c.json(adminUserView(await disableUser(deps, actor(c), userIdOf(c)))))
    .post('/users/:id/enable', async (c) => c.json(adminUserView(await enableUser(deps, actor(c), userIdOf(c)))))
    .put('/users/:id/roles', async (c) => {
      const { roles } = await readJson(c, rolesBody, limit);
      return c.json(adminUserView(await setUserRoles(deps, actor(c), userIdOf(c), roles)));
    })
    .get('/users/:id/sessions', async (c) => {
      const sessions = await listUserSessions(deps, userIdOf(c));
      return c.json({ sessions: sessions.map(sessionView) });
    })
    .delete('/users/:id/sessions', async (c) => {
      await revokeUserSessions(deps, actor(c), userIdOf(c));
      return c.body(null, 204);
    })
    .delete('/users/:id/sessions/:sid', async (c) => {
      await revokeUserSession(deps, actor(c), userIdOf(c), canonicalCase(c.req.param('sid')));
      return c.body(null, 204);
    });
}
