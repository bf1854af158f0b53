import type { Context } from 'hono';
import type { SessionMeta } from '../sessions/session-store.js';
import type { ClientIp } from './client-ip.js';

/** The client of a request, as a session records it (shown in `GET /sessions`) and the audit trail names it. */
export const sessionMeta = (c: Context, clientIp: ClientIp, device?: string): SessionMeta => ({
  device,
  userAgent: c.req.header('user-agent')?.slice(0, 256),
  ip: clientIp(c),
});
