/** Each cache's entries from a `/metrics` text (`jwt_cache_entries{cache="…"}`). */
export function parseCacheEntries(metrics: string): Record<string, number> {
  const entries: Record<string, number> = {};
  for (const [, cache, value] of metrics.matchAll(/^jwt_cache_entries\{cache="(\w+)"\} (\d+)$/gm)) entries[cache!] = Number(value);
  return entries;
}

/**
 * An instance's cache entries, read from its own port (not through nginx), or `null` when they
 * cannot be read: they tell how much of the RSS growth is caches filling towards their steady
 * state (access tokens stay until they expire, session salts up to two access lifetimes).
 */
export async function cacheEntries(instanceUrl: string): Promise<Record<string, number> | null> {
  try {
    const response = await fetch(`${instanceUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return response.ok ? parseCacheEntries(await response.text()) : null;
  } catch {
    return null;
  }
}
