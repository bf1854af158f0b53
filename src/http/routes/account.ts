import { Hono } from 'hono';
import type { AppDeps } from '../../app-deps.js';
import { publicUser } from '../../auth/account-proof.js';
import { endOwnSession } from '../../auth/revocation.js';
import { requireAccessToken } from '../access-token-auth.js';
import type { AppEnv } from '../app-env.js';
import { canonicalCase, isUuid } from '../../util/uuid.js';
import { AppError } from '../../errors.js';
import type { ClientIp } from '../client-ip.js';
import { auditClientOf } from '../session-meta.js';
import { sessionView } from '../session-view.js';

/** `/me`, `/sessions`, `DELETE /sessions/:id`: the caller's own account. */
export function accountRoutes(deps: AppDeps, clientIp: ClientIp) {
  const authenticated = requireAccessToken(deps.accessTokens, deps.sessions);
  return new Hono<AppEnv>()
    .get('/me', authenticated, async (c) => {
      const user = await deps.users.findById(c.var.claims.userId);
      if (!user || user.disabledAt) throw new AppError('invalid_token', 'the account no longer exists');
      return c.json(publicUser(user));
    })
    .get('/sessions', authenticated, async (c) => {
      const { userId, sessionId } = c.var.claims;
      const sessions = await deps.sessions.list(userId);
      return c.json({
        sessions: sessions.map((session) => ({ ...sessionView(session), current: session.id === sessionId })),
      });
    })
    .delete('/sessions/:id', authenticated, async (c) => {
      const id = canonicalCase(c.req.param('id'));
      const ended = isUuid(id) && (await endOwnSession(deps, c.var.claims, id, auditClientOf(c, clientIp)));
      if (!ended) throw new AppError('not_found', 'no such session');
      return c.body(null, 204);
    });
}
