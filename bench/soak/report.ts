import { BASELINE_S, type InstanceMemory, MAX_GROWTH, MIN_JUDGED_S, WINDOW_S } from './memory.js';
import { ENDPOINTS, type EndpointSummary, type ErrorDetail, type Endpoint } from './record.js';

const pad = (text: string, width: number) => text.padStart(width);
const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : '–');
const num = (value: number | null) => (value === null ? '–' : String(value));
const growth = (m: InstanceMemory) => m.unjudged ?? `${m.growthPct}%`;

export interface SoakReport {
  durationS: number;
  endpoints: Record<Endpoint, EndpointSummary>;
  errors: { count: number; first: ErrorDetail[] };
  warmupS: number;
  memory: InstanceMemory[];
  /** Per instance, each cache's entries at the end (`null`: not read). */
  caches: (Record<string, number> | null)[];
  pass: boolean;
}

/** The report as plain text tables. */
export function formatReport(report: SoakReport, setup: string): string {
  const lines = [`soak: ${setup}`, `duration ${report.durationS} s`, ''];
  lines.push(`${'endpoint'.padEnd(27)}${pad('requests', 9)}${pad('req/s', 8)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('max ms', 9)}  statuses`);
  for (const endpoint of ENDPOINTS) {
    const row = report.endpoints[endpoint];
    const statuses = Object.entries(row.statuses).map(([status, count]) => `${status}×${count}`).join(' ');
    const rate = (row.requests / report.durationS).toFixed(1);
    lines.push(`${endpoint.padEnd(27)}${pad(String(row.requests), 9)}${pad(rate, 8)}${pad(ms(row.p50), 9)}${pad(ms(row.p99), 9)}${pad(ms(row.max), 9)}  ${statuses}`);
  }
  lines.push('', `errors: ${report.errors.count}`);
  for (const error of report.errors.first.slice(0, 5)) {
    lines.push(`  ${error.atS}s ${error.endpoint}: expected ${error.expected}, got ${error.status ?? 'no answer'}: ${error.detail}`);
  }
  lines.push(
    '',
    `RSS per instance (MiB): at boot; without argon2's blocks, after the ${report.warmupS} s warm-up: the first ${BASELINE_S} s's median, then medians of`,
    `${WINDOW_S} s sliding windows: highest, last; highest single sample (blocks included); growth = highest window / first ${BASELINE_S} s`,
    `(target ≤ ${MAX_GROWTH * 100}%; needs ${MIN_JUDGED_S} s after warm-up)`,
  );
  for (const m of report.memory) {
    lines.push(
      `  ${m.id.padEnd(6)} pid ${String(m.pid).padEnd(8)} ${pad(num(m.bootMiB), 6)} ${pad(num(m.startMiB), 6)} ${pad(num(m.highestMiB), 6)} ${pad(num(m.endMiB), 6)}` +
        ` ${pad(num(m.peakMiB), 6)}  growth ${growth(m)}: ${m.pass ? 'pass' : 'FAIL'}`,
    );
  }
  lines.push('', 'cache entries at the end (jwt_cache_entries):');
  for (const [i, m] of report.memory.entries()) {
    const entries = report.caches[i];
    lines.push(`  ${m.id.padEnd(6)} ${entries ? Object.entries(entries).map(([cache, count]) => `${cache} ${count}`).join(', ') : 'not read'}`);
  }
  const failed = report.memory.filter((m) => !m.pass).map((m) => `${m.id} RSS ${m.unjudged ?? `+${m.growthPct}%`}`);
  const reasons = [...(report.errors.count > 0 ? [`${report.errors.count} errors`] : []), ...failed];
  lines.push(
    '',
    report.pass
      ? `soak: PASS (0 errors, RSS growth ≤ ${MAX_GROWTH * 100}% on every instance)`
      : `soak: FAIL (${reasons.join('; ')})`,
  );
  return `${lines.join('\n')}\n`;
}
