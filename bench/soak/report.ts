import { ENDPOINTS, type EndpointSummary, type ErrorDetail, type Endpoint } from './record.js';

export const MAX_GROWTH = 0.15;
const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/** RSS of every instance at one moment (`null`: the process was gone). */
export interface RssSample {
  atS: number;
  rss: (number | null)[];
}

export interface InstanceMemory {
  id: string;
  pid: number;
  /** MiB: first sample, after warm-up, highest after warm-up, last sample. */
  bootMiB: number | null;
  startMiB: number | null;
  peakMiB: number | null;
  endMiB: number | null;
  /** Peak after warm-up over RSS after warm-up; the criterion. */
  growthPct: number | null;
  endGrowthPct: number | null;
  pass: boolean;
}

/** Per instance: RSS after warm-up (the sample at index `warm`), the peak after it and the last, and growth against ≤ 15%. */
export function memory(instances: readonly { id: string; pid: number }[], samples: readonly RssSample[], warm: number): InstanceMemory[] {
  return instances.map(({ id, pid }, i) => {
    const series = samples.map((sample) => sample.rss[i] ?? null);
    const after = series.slice(warm);
    const start = after[0] ?? null;
    const end = series.at(-1) ?? null;
    const complete = after.length > 0 && after.every((value) => value !== null);
    const peak = complete ? Math.max(...(after as number[])) : null;
    const growth = start !== null && peak !== null ? (peak - start) / start : null;
    const pct = (value: number | null) => (value === null ? null : Math.round(value * 1000) / 10);
    return {
      id,
      pid,
      bootMiB: series[0] === null || series[0] === undefined ? null : mib(series[0]),
      startMiB: start === null ? null : mib(start),
      peakMiB: peak === null ? null : mib(peak),
      endMiB: end === null ? null : mib(end),
      growthPct: pct(growth),
      endGrowthPct: pct(start !== null && end !== null ? (end - start) / start : null),
      pass: growth !== null && growth <= MAX_GROWTH,
    };
  });
}

const pad = (text: string, width: number) => text.padStart(width);
const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : '–');
const num = (value: number | null, suffix = '') => (value === null ? 'gone' : `${value}${suffix}`);

export interface SoakReport {
  durationS: number;
  endpoints: Record<Endpoint, EndpointSummary>;
  errors: { count: number; first: ErrorDetail[] };
  warmupS: number;
  memory: InstanceMemory[];
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
  lines.push('', `RSS per instance (MiB): boot, after the ${report.warmupS} s warm-up, peak after warm-up, end; growth = peak / warm-up (target ≤ ${MAX_GROWTH * 100}%)`);
  for (const m of report.memory) {
    lines.push(
      `  ${m.id.padEnd(6)} pid ${String(m.pid).padEnd(8)} ${pad(num(m.bootMiB), 6)} ${pad(num(m.startMiB), 6)} ${pad(num(m.peakMiB), 6)} ${pad(num(m.endMiB), 6)}` +
        `  growth ${num(m.growthPct, '%')} (end ${num(m.endGrowthPct, '%')}): ${m.pass ? 'pass' : 'FAIL'}`,
    );
  }
  const failed = report.memory.filter((m) => !m.pass).map((m) => `${m.id} RSS ${m.growthPct === null ? 'gone' : `+${m.growthPct}%`}`);
  const reasons = [...(report.errors.count > 0 ? [`${report.errors.count} errors`] : []), ...failed];
  lines.push(
    '',
    report.pass
      ? `soak: PASS (0 errors, RSS growth ≤ ${MAX_GROWTH * 100}% on every instance)`
      : `soak: FAIL (${reasons.join('; ')})`,
  );
  return `${lines.join('\n')}\n`;
}
