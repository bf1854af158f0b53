const durationUnits: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const sizeUnits: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };

/**
 * Parses a Go-style duration (`1h30m`, `15m`, `10s`, `250ms`, `1.5s`, `.5s`, `500us`; Go's
 * `time.ParseDuration` units, a leading `+` allowed) into whole milliseconds: a positive
 * duration below 1 ms is 1 ms, never 0 (which would read as "none"). Returns `null` for
 * anything else, including negative values.
 */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim().replace(/^\+/, '');
  if (trimmed === '0') return 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|h|m|s)/y;
  let total = 0;
  let index = 0;
  while (index < trimmed.length) {
    part.lastIndex = index;
    const match = part.exec(trimmed);
    if (!match) return null;
    total += Number(match[1]) * (durationUnits[match[2] as string] ?? Number.NaN);
    index = part.lastIndex;
  }
  if (index === 0 || !Number.isFinite(total)) return null;
  return total > 0 && total < 1 ? 1 : Math.round(total);
}

/** Parses a byte size (`16kb`, `1mb`, `512b`, `2048`) into bytes, or `null`. */
export function parseSize(text: string): number | null {
  const match = /^(\d+)\s*(b|kb|mb)?$/i.exec(text.trim());
  if (!match) return null;
  return Number(match[1]) * (sizeUnits[(match[2] ?? 'b').toLowerCase()] ?? Number.NaN);
}
