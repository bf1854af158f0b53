import {
  activityThrottleMs,
  MAX_DENIED_PER_SESSION,
  type SessionInfo,
  type SessionMeta,
  type SessionPolicy,
  type SessionStore,
} from './session-store.js';

interface StoredSession extends SessionMeta {
  generation: number;
  /** Access tokens of this session denied by jti, to when the session may drop each (see MAX_DENIED_PER_SESSION). */
  denied: Map<string, number>;
  roles: string[];
  salt: string;
  rotatedAt: number;
  /** The generation endOthers moved this session to: older refresh tokens are refused, not reuse. */
  movedTo: number;
  tokenVersion: number;
  createdAt: number;
  lastSeenAt: number;
  absoluteExpiresAt: number;
  /** min(lastSeenAt + auto_logout, absoluteExpiresAt): the record is gone after this. */
  expiresAt: number;
}

interface UserState {
  tokenVersion: number;
  sessions: Map<string, StoredSession>;
}

const SWEEP_INTERVAL_MS = 60_000;

/**
 * The embedded, single-process session store with the same semantics as the Redis one.
 * Each method runs without awaiting in between, so each is atomic on Node's one thread.
 */
export function createMemorySessionStore({ policy }: { policy: SessionPolicy }) {
  const users = new Map<string, UserState>();
  const denied = new Map<string, number>();
  const throttle = activityThrottleMs(policy);

  const userState = (userId: string) => {
    let state = users.get(userId);
    if (!state) {
      state = { tokenVersion: 0, sessions: new Map() };
      users.set(userId, state);
    }
    return state;
  };

  /** The live session, dropping it when its time is up. */
  const liveSession = (state: UserState | undefined, sessionId: string, now: number) => {
    const session = state?.sessions.get(sessionId);
    if (!session) return undefined;
    if (session.expiresAt <= now) {
      state?.sessions.delete(sessionId);
      return undefined;
    }
    return session;
  };

  const touch = (session: StoredSession, now: number) => {
    session.lastSeenAt = now;
    session.expiresAt = Math.min(session.absoluteExpiresAt, now + policy.autoLogoutMs);
  };

  const grant = (session: StoredSession) => ({
    generation: session.generation,
    tokenVersion: session.tokenVersion,
    roles: session.roles,
    expiresAt: session.expiresAt,
  });

  const sweep = () => {
    const now = Date.now();
    for (const [key, until] of denied) if (until <= now) denied.delete(key);
    for (const [userId, state] of users) {
      for (const [sessionId, session] of state.sessions) if (session.expiresAt <= now) state.sessions.delete(sessionId);
      if (state.sessions.size === 0 && state.tokenVersion === 0) users.delete(userId);
    }
  };
  const sweeper = setInterval(sweep, SWEEP_INTERVAL_MS);
  sweeper.unref();

  const denyKey = (userId: string, jti: string) => `${userId}:${jti}`;
  const isDenied = (userId: string, jti: string, now = Date.now()) => (denied.get(denyKey(userId, jti)) ?? 0) > now;

  /**
   * Ends every session of the user but `keepSessionId`, and returns it; undefined (nothing
   * changed) if it has ended or is of an older token version (revoked), as the Redis store's.
   */
  const keepOnly = (userId: string, keepSessionId: string, now: number) => {
    const state = users.get(userId);
    const kept = liveSession(state, keepSessionId, now);
    if (!state || !kept || kept.tokenVersion !== state.tokenVersion) return undefined;
    state.sessions.clear();
    state.sessions.set(keepSessionId, kept);
    return kept;
  };

  const endOne = (userId: string, sessionId: string, deny?: { jti: string; ttlMs: number }): 'ended' | 'gone' => {
    const now = Date.now();
    const state = users.get(userId);
    const existed = liveSession(state, sessionId, now) !== undefined;
    state?.sessions.delete(sessionId);
    // A denial already there keeps its later end (as Redis's PEXPIRE … GT does).
    if (deny && deny.ttlMs > 0) denied.set(denyKey(userId, deny.jti), Math.max(denied.get(denyKey(userId, deny.jti)) ?? 0, now + deny.ttlMs));
    return existed ? 'ended' : 'gone';
  };

  return {
    async create({ userId, sessionId, salt, roles, meta }) {
      const now = Date.now();
      const state = userState(userId);
      for (const [id, session] of state.sessions) if (session.expiresAt <= now) state.sessions.delete(id);
      // Map iteration order is insertion order, i.e. oldest first.
      let evictedOthers = false;
      for (const id of state.sessions.keys()) {
        if (state.sessions.size < policy.maxSessions) break;
        state.sessions.delete(id);
        evictedOthers = true;
      }
      const absoluteExpiresAt = now + policy.refreshLifetimeMs;
      const expiresAt = Math.min(absoluteExpiresAt, now + policy.autoLogoutMs);
      state.sessions.set(sessionId, {
        ...meta,
        generation: 0,
        denied: new Map(),
        roles,
        salt,
        rotatedAt: 0,
        movedTo: 0,
        tokenVersion: state.tokenVersion,
        createdAt: now,
        lastSeenAt: now,
        absoluteExpiresAt,
        expiresAt,
      });
      return { generation: 0, tokenVersion: state.tokenVersion, roles, expiresAt, evictedOthers };
    },

    async authenticate({ userId, sessionId, jti, tokenVersion }) {
      const now = Date.now();
      if (isDenied(userId, jti, now)) return 'denied';
      const state = users.get(userId);
      const session = liveSession(state, sessionId, now);
      if (!state || !session) return 'no_session';
      if (session.denied.has(jti)) return 'denied';
      if (tokenVersion !== session.tokenVersion || session.tokenVersion !== state.tokenVersion) return 'stale_version';
      if (now - session.lastSeenAt >= throttle) touch(session, now);
      return 'ok';
    },

    async getSalt(userId, sessionId) {
      return liveSession(users.get(userId), sessionId, Date.now())?.salt ?? null;
    },

    async rotate({ userId, sessionId, generation, salt }) {
      const now = Date.now();
      const state = users.get(userId);
      const session = liveSession(state, sessionId, now);
      if (!state || !session || session.salt !== salt) return { outcome: 'invalid' };
      if (session.tokenVersion !== state.tokenVersion) {
        state.sessions.delete(sessionId);
        return { outcome: 'invalid' };
      }
      if (generation < session.movedTo) return { outcome: 'superseded' };
      let outcome: 'rotated' | 'replayed';
      if (generation === session.generation) {
        session.generation += 1;
        session.rotatedAt = now;
        outcome = 'rotated';
      } else if (generation === session.generation - 1 && now - session.rotatedAt <= policy.refreshReuseGraceMs) {
        outcome = 'replayed';
      } else {
        state.sessions.delete(sessionId);
        return { outcome: 'reused' };
      }
      touch(session, now);
      return { outcome, ...grant(session) };
    },

    endSession: async (userId, sessionId) => endOne(userId, sessionId) === 'ended',

    async logout(userId, sessionId, token) {
      const session = liveSession(users.get(userId), sessionId, Date.now());
      if (session && (session.tokenVersion !== token.tokenVersion || session.denied.has(token.jti) || isDenied(userId, token.jti))) return 'refused';
      return endOne(userId, sessionId, token);
    },

    async logoutWithRefreshToken(userId, sessionId, generation) {
      const session = liveSession(users.get(userId), sessionId, Date.now());
      if (session && generation < session.movedTo) return 'refused';
      return endOne(userId, sessionId);
    },

    async confirmEnded() {},

    async deny(userId, sessionId, jti, ttlMs) {
      if (ttlMs <= 0) return 'repeated';
      const now = Date.now();
      const state = users.get(userId);
      const session = liveSession(state, sessionId, now);
      // As the Redis script does (see deny there): kept twice the denial's length, only ever moved
      // later, dropped when the session is full.
      const recordUntil = now + 2 * ttlMs;
      if (isDenied(userId, jti, now)) {
        if (session && (session.denied.get(jti) ?? 0) < recordUntil) session.denied.set(jti, recordUntil);
        return 'repeated';
      }
      denied.set(denyKey(userId, jti), now + ttlMs);
      if (session && session.denied.size >= MAX_DENIED_PER_SESSION) {
        for (const [held, ends] of session.denied) if (ends <= now) session.denied.delete(held);
        if (session.denied.size > MAX_DENIED_PER_SESSION - Math.floor(MAX_DENIED_PER_SESSION / 8)) {
          state?.sessions.delete(sessionId);
          return 'session_ended';
        }
      }
      session?.denied.set(jti, recordUntil);
      return 'denied';
    },

    async endAll(userId) {
      const state = userState(userId);
      state.tokenVersion += 1;
      state.sessions.clear();
      return state.tokenVersion;
    },

    endOthersKeepingTokens: async (userId, keepSessionId) => keepOnly(userId, keepSessionId, Date.now()) !== undefined,

    async endOthers(userId, keepSessionId, roles) {
      const now = Date.now();
      const kept = keepOnly(userId, keepSessionId, now);
      if (!kept) return null;
      const state = userState(userId);
      state.tokenVersion += 1;
      kept.tokenVersion = state.tokenVersion;
      kept.generation += 1;
      kept.rotatedAt = 0;
      kept.movedTo = kept.generation;
      kept.roles = [...roles];
      touch(kept, now);
      return { ...grant(kept), salt: kept.salt };
    },

    async list(userId) {
      const now = Date.now();
      const state = users.get(userId);
      const rows: SessionInfo[] = [];
      for (const [id, session] of state?.sessions ?? []) {
        if (!liveSession(state, id, now)) continue;
        const { createdAt, lastSeenAt, expiresAt, absoluteExpiresAt, device, userAgent, ip } = session;
        rows.push({ id, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt, device, userAgent, ip });
      }
      return rows.sort((a, b) => b.createdAt - a.createdAt);
    },

    async ping() {},

    async close() {
      clearInterval(sweeper);
    },
  } satisfies SessionStore;
}
