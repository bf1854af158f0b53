/** Client details recorded with a session (all optional, length-capped by the caller). */
export interface SessionMeta {
  device?: string | undefined;
  userAgent?: string | undefined;
  ip?: string | undefined;
}

/** A session (token family) as listed to its owner. Times are epoch milliseconds. */
export interface SessionInfo extends SessionMeta {
  id: string;
  createdAt: number;
  lastSeenAt: number;
  /** When the session ends if nothing happens: min(last activity + auto_logout, absolute expiry). */
  expiresAt: number;
  /** Absolute end: created_at + refresh_lifetime. */
  absoluteExpiresAt: number;
}

/** The claims of a verified access token that its revocation state depends on. */
export interface AuthenticateInput {
  userId: string;
  sessionId: string;
  jti: string;
  tokenVersion: number;
}

/** What `/authenticate` learns about a verified access token's revocation state. */
export type SessionState = 'ok' | 'no_session' | 'stale_version' | 'denied';

/** What a token response needs from the store: the state the new tokens are minted for. */
export interface SessionGrant {
  generation: number;
  tokenVersion: number;
  /** Roles recorded at login; any role change bumps the token version, ending the session. */
  roles: string[];
  /** When the session ends if idle (epoch ms). */
  expiresAt: number;
}

/** A new session's grant. */
export interface NewSession extends SessionGrant {
  /** Whether older sessions of the user were ended to make room (`maxSessions`): a revocation. */
  evictedOthers: boolean;
}

/**
 * `superseded`: a generation from before the password change that kept the session (`endOthers`
 * moved it on): refused, and the session lives on. `invalid`: no such session (or no longer), or a
 * salt that does not match.
 */
export type RotateResult = ({ outcome: 'rotated' | 'replayed' } & SessionGrant) | { outcome: 'reused' } | { outcome: 'superseded' } | { outcome: 'invalid' };

/** Lifetimes the stores enforce, in milliseconds. */
export interface SessionPolicy {
  refreshLifetimeMs: number;
  autoLogoutMs: number;
  refreshReuseGraceMs: number;
  maxSessions: number;
}

/**
 * Shared session and revocation state. Every method is atomic on its own (one Lua
 * script in Redis, one synchronous step in the embedded store); expected misses return
 * `null`/`false`, and an unreachable backend throws `UnavailableError`.
 *
 * A session exists only while it is valid: its record expires at
 * min(last activity + auto_logout, created_at + refresh_lifetime). Losing the store's
 * data therefore only logs people out; it never revives a revoked token.
 */
export interface SessionStore {
  /**
   * Records a new session at generation 0, evicting the user's oldest beyond `maxSessions`.
   * Returns the user's token version, and whether any session was evicted. With replicated
   * revocations an eviction no replica acknowledged in time throws `UnavailableError`, the new
   * session ended again.
   */
  create(input: { userId: string; sessionId: string; salt: string; roles: string[]; meta: SessionMeta }): Promise<NewSession>;

  /**
   * The hot-path check: session alive, token version current, jti not denied.
   * Counts as activity (idle window slides; writes throttled to one per `max(1s, auto_logout/100)`).
   */
  authenticate(input: AuthenticateInput): Promise<SessionState>;

  /** The session's refresh salt, or `null` when it does not exist. Read-only. */
  getSalt(userId: string, sessionId: string): Promise<string | null>;

  /**
   * Decides a refresh atomically for a token of `generation` whose MAC was verified under `salt`:
   * current → rotate; previous within the grace → replay; older than the generation a password
   * change moved the session to → `superseded`; anything else older → delete the family.
   */
  rotate(input: { userId: string; sessionId: string; generation: number; salt: string }): Promise<RotateResult>;

  /** Ends one session. Returns whether it existed. */
  endSession(userId: string, sessionId: string): Promise<boolean>;

  /**
   * A logout with an access token, checked and done in one step: ends its session and denies its
   * jti for `ttlMs` (an expired token's, `ttlMs` ≤ 0, is not: nothing needs it), unless the session
   * lives on under another token version or denies that jti (`refused`, nothing changed). `gone`:
   * the session had ended already (the jti is denied still, or now).
   */
  logout(userId: string, sessionId: string, token: { jti: string; ttlMs: number; tokenVersion: number }): Promise<LogoutOutcome>;

  /**
   * A logout with a refresh token (its MAC checked): ends its session, unless a password change
   * moved the session past the token's `generation` (`refused`, nothing changed: such a token is
   * only refused, as `rotate` refuses it). `gone`: the session had ended already.
   */
  logoutWithRefreshToken(userId: string, sessionId: string, generation: number): Promise<LogoutOutcome>;

  /**
   * For a logout whose session was found gone: resolves once the replicas that must hold
   * revocations hold every one this instance made of `userId`'s, and the session is gone on the
   * master they are written to (replicated revocations; on a Cluster, those of the user's master;
   * at once elsewhere). @throws {UnavailableError} otherwise
   */
  confirmEnded(userId: string, sessionId: string): Promise<void>;

  /**
   * Denies one access token's jti for `ttlMs` (its remaining lifetime and the clock tolerance), and
   * in its session for twice as long at least (see MAX_DENIED_PER_SESSION), so losing the deny entry
   * alone never revives the token. `repeated`: it was denied already (nothing changes, nothing
   * worth recording); `session_ended`: its session holds too many denials still in force and ended
   * instead.
   */
  deny(userId: string, sessionId: string, jti: string, ttlMs: number): Promise<DenyOutcome>;

  /** Bumps the user's token version and ends every session. Returns the new version. */
  endAll(userId: string): Promise<number>;

  /**
   * Bumps the token version and ends every session but `keepSessionId`, which moves to the new
   * version and a new generation (its older refresh tokens are refused as `invalid`, without
   * ending it) and goes on with `roles` (the account's, as the caller read them: the session's may
   * be from before an admin change whose end of sessions has not happened yet). `null`, changing
   * nothing, if it no longer exists or is of an older token version than the user's (revoked: a
   * logout-all that missed it): a request of an ended session has no effect.
   */
  endOthers(userId: string, keepSessionId: string, roles: readonly string[]): Promise<(SessionGrant & { salt: string }) | null>;

  /**
   * Ends every session but `keepSessionId`, which stays as it is: same version, generation and
   * tokens. `false`, changing nothing, if it no longer exists or is of an older token version
   * than the user's (as `endOthers`).
   */
  endOthersKeepingTokens(userId: string, keepSessionId: string): Promise<boolean>;

  /** The user's live sessions, newest first. */
  list(userId: string): Promise<SessionInfo[]>;

  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Most access tokens one session may hold denied by jti (`POST /revoke` of an access token). Each
 * is kept until its session holds this many and twice its denial's length has passed (the denial
 * outlasts the token and the clock tolerance): then those go, and a session still holding over 7/8
 * of this many ends instead. A client revoking every access token it gets reaches this many, and
 * each time keeps only those of about two access lifetimes; refresh + revoke in a loop, faster than
 * its tokens expire, ends its session (~20 KiB of Redis at most per session).
 */
export const MAX_DENIED_PER_SESSION = 256;

/** A logout's outcome: `ended` its session; `gone`, the session had ended already; `refused`, nothing changed. */
export type LogoutOutcome = 'ended' | 'gone' | 'refused';

export type DenyOutcome = 'denied' | 'repeated' | 'session_ended';

/** The activity-write throttle DESIGN.md prescribes: at most once per auto_logout/100, and at least 1 s apart. */
export const activityThrottleMs = (policy: SessionPolicy) => Math.max(1000, Math.floor(policy.autoLogoutMs / 100));
