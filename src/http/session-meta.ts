import type { Context } from 'hono';
import type { AuditClient } from '../audit/events.js';
import type { SessionMeta } from '../sessions/session-store.js';
import type { ClientIp } from './client-ip.js';

/** The client of a request as the audit trail names it: its address (per `trust_proxy`) and user agent, truncated. */
export const auditClientOf = (c: Context, clientIp: ClientIp): AuditClient => ({
  ip: clientIp(c),
  userAgent: c.req.header('user-agent')?.slice(0, 256),
});

/** The client of a request, as a session records it (shown in `GET /sessions`) and the audit trail names it. */
export const sessionMeta = (c: Context, clientIp: ClientIp, device?: string): SessionMeta => ({ device, ...auditClientOf(c, clientIp) });
