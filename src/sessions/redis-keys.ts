/**
 * The Redis key layout. Every key of one user carries the hash tag `{uid}` so that
 * each script touches a single Redis Cluster slot.
 */
export function redisKeys(prefix: string) {
  const user = (uid: string) => `${prefix}{${uid}}:`;
  return {
    /** Hash: one session (token family). */
    session: (uid: string, sid: string) => `${user(uid)}s:${sid}`,
    /** Prefix of a user's session keys, for scripts that walk the session set. */
    sessionPrefix: (uid: string) => `${user(uid)}s:`,
    /** Sorted set: the user's session ids scored by creation time. */
    sessionSet: (uid: string) => `${user(uid)}ss`,
    /** Integer: the user's token version. */
    tokenVersion: (uid: string) => `${user(uid)}tv`,
    /** Set (replicated revocations only): sessions evicted by `max_sessions` that no replica has acknowledged yet. */
    pendingEvictions: (uid: string) => `${user(uid)}pe`,
    /**
     * String with a short TTL (replicated revocations only): written before each WAIT, which
     * answers only up to its connection's last write that reached the replication stream.
     */
    acknowledgementMark: (uid: string) => `${user(uid)}ack`,
    /** String with TTL: a denylisted access token id. */
    denied: (uid: string, jti: string) => `${user(uid)}d:${jti}`,
    /** Pub/sub channel: a user id is published whenever one of that user's tokens or sessions is revoked. */
    revocationChannel: `${prefix}revoked`,
  };
}

/** The Redis key names of one prefix. */
export type RedisKeys = ReturnType<typeof redisKeys>;
