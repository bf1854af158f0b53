/** Milliseconds in a k6 duration such as `90s`, `1m30s`, `2h`, `1d` or `500ms` (see duration.js). */
export function durationMs(text: string): number;
