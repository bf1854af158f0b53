// k6 durations, in a file of its own (no k6 module): the unit tests import it under Node.

/**
 * Milliseconds in a k6 duration such as `90s`, `1m30s`, `2h` or `500ms`.
 * @param {string} text
 */
export function durationMs(text) {
  const units = /** @type {Record<string, number>} */ ({ ms: 1, s: 1000, m: 60000, h: 3600000 });
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) throw new Error(`not a duration: ${text}`);
  return parts.reduce((sum, part) => sum + Number(part[1]) * (units[part[2] ?? ''] ?? 0), 0);
}
