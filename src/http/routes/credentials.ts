import { Hono, type Context } from 'hono';
import type { AppDeps } from '../../app-deps.js';
import type { AttemptLimiter } from '../../auth/account-proof.js';
import { login } from '../../auth/login.js';
import { changePassword } from '../../auth/password-change.js';
import { register } from '../../auth/register.js';
import type { SessionMeta } from '../../sessions/session-store.js';
import { requireAccessToken } from '../access-token-auth.js';
import type { AppEnv } from '../app-env.js';
import type { ClientIp } from '../client-ip.js';
import { presentedDeviceToken } from '../device-cookie.js';
import { readJson } from '../json-body.js';
import { loginBody, passwordBody, registerBody } from '../request-schemas.js';
import { sendProvenTokens } from '../send-tokens.js';
import { sessionMeta } from '../session-meta.js';

/** `/register`, `/login`, `/password`. */
export function credentialRoutes(deps: AppDeps, clientIp: ClientIp) {
  const limit = deps.config.server.body_limit;
  /** Password checks of this client (and of its trusted device, if it presents one) under the login limits. */
  const attemptLimiter =
    (c: Context, meta: SessionMeta, deviceToken: string | undefined): AttemptLimiter =>
    (email, attempt) =>
      deps.rateLimits.login(email, { ip: meta.ip, deviceToken: presentedDeviceToken(c, deps, deviceToken) }, attempt);
  return new Hono<AppEnv>()
    .post('/register', async (c) => {
      // The body first: no argon2 place is held while it arrives.
      const body = await readJson(c, registerBody, limit);
      const meta = sessionMeta(c, clientIp, body.device);
      const { user, ...proven } = await register(deps, body, meta, () => deps.rateLimits.register(meta.ip));
      return sendProvenTokens(c, deps, proven, { user }, 201);
    })
    .post('/login', async (c) => {
      const body = await readJson(c, loginBody, limit);
      const meta = sessionMeta(c, clientIp, body.device);
      // Counted before the password is checked: a locked account or client costs no argon2 work.
      return sendProvenTokens(c, deps, await login(deps, body, meta, attemptLimiter(c, meta, body.device_token)));
    })
    .post('/password', requireAccessToken(deps.accessTokens, deps.sessions), async (c) => {
      const body = await readJson(c, passwordBody, limit);
      const meta = sessionMeta(c, clientIp);
      // The current password is checked like a login's, from a trusted device too.
      return sendProvenTokens(c, deps, await changePassword(deps, c.var.claims, body, meta, attemptLimiter(c, meta, body.device_token)));
    });
}
