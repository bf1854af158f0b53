// k6 durations, in a file of its own (no k6 module): the unit tests import it under Node.

/** Milliseconds per unit of a k6 duration (Go's time units, and k6's `d`). */
const UNITS = /** @type {Record<string, number>} */ ({ ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 });

/**
 * Milliseconds in a k6 duration such as `90s`, `1m30s`, `2h`, `1d` or `500ms`.
 * @param {string} text
 */
export function durationMs(text) {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) throw new Error(`not a duration: ${text}`);
  return parts.reduce((sum, part) => sum + Number(part[1]) * (UNITS[part[2] ?? ''] ?? 0), 0);
}
