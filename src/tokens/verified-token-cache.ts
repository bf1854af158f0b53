/**
 * A bounded cache of access tokens whose signature and claims were already verified, keyed
 * by the exact token string. Entries are only served until the token's own expiry (plus
 * tolerance); the oldest entry goes first when the cap is reached. It never answers for
 * revocation: the session store is still asked on every request.
 */
export function createVerifiedTokenCache<T>(maxEntries: number) {
  const entries = new Map<string, { value: T; validUntilMs: number }>();
  return {
    get(token: string, nowMs: number): T | undefined {
      const entry = entries.get(token);
      if (!entry) return undefined;
      if (entry.validUntilMs > nowMs) return entry.value;
      entries.delete(token);
      return undefined;
    },
    set(token: string, value: T, validUntilMs: number) {
      if (maxEntries <= 0) return;
      if (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
      entries.set(token, { value, validUntilMs });
    },
  };
}
