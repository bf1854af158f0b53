/**
 * Names of the auth events in the audit trail (`auth_events.event`) and in the structured log
 * (`event` field). Snake case, past tense where it is an outcome.
 */
export type AuthEventName =
  | 'register'
  | 'login'
  | 'login_failed'
  /** An old refresh token came back: its whole session was ended (RFC 9700 §4.14.2). */
  | 'refresh_reused'
  | 'logout'
  | 'logout_all'
  | 'password_changed'
  /** A password change refused for a wrong current password (`details.reason`). */
  | 'password_change_failed'
  /** One access token revoked by jti through `/revoke` (its session lives on). */
  | 'token_revoked'
  /** A request refused by the brute-force limits (429); `details.scope` says which limit. */
  | 'rate_limited'
  | AdminEventName;

/** Actions of an admin, through the API or `npm run admin`; `details.actor` is the admin's user id when known. */
export type AdminEventName =
  | 'admin_user_created'
  | 'admin_user_disabled'
  | 'admin_user_enabled'
  | 'admin_roles_changed'
  | 'admin_session_revoked'
  | 'admin_sessions_revoked';

/**
 * One auth event as the use cases report it. Never put a password, hash or token (access,
 * refresh, or a part of one) anywhere in it, `details` included.
 */
export interface AuthEvent {
  event: AuthEventName;
  /** The account concerned (for admin actions: the target); absent when unknown (a failed login). */
  userId?: string | undefined;
  sessionId?: string | undefined;
  /** Client IP as decided by `server.trust_proxy`. */
  ip?: string | undefined;
  /** Stored in `details.user_agent`, truncated. */
  userAgent?: string | undefined;
  /** Small JSON-serialisable facts: a reason, a count, a role list. */
  details?: Record<string, unknown> | undefined;
}

/** Who sent the request behind an event, as the audit trail names them. */
export type AuditClient = Pick<AuthEvent, 'ip' | 'userAgent'>;
