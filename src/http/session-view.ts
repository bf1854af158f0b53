import type { SessionInfo } from '../sessions/session-store.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** A session as listed over HTTP (`GET /sessions`, `GET /admin/users/:id/sessions`). */
export const sessionView = (session: SessionInfo) => ({
  id: session.id,
  device: session.device ?? null,
  user_agent: session.userAgent ?? null,
  ip: session.ip ?? null,
  created_at: iso(session.createdAt),
  last_seen_at: iso(session.lastSeenAt),
  expires_at: iso(session.expiresAt),
});
