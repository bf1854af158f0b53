import { ENDPOINTS, type EndpointSummary, type ErrorDetail, type Endpoint } from './record.js';

export const MAX_GROWTH = 0.15;
const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/** RSS of every instance at one moment (`null`: the process was gone). */
export interface RssSample {
  atS: number;
  rss: (number | null)[];
}

/** Windows after warm-up are about this long (at least two of them, of equal length). */
export const WINDOW_S = 60;

export interface InstanceMemory {
  id: string;
  pid: number;
  /** MiB: the first sample (boot), then medians of the windows after warm-up: the first, the highest, the last. */
  bootMiB: number | null;
  startMiB: number | null;
  highestMiB: number | null;
  endMiB: number | null;
  /** MiB: the highest single sample after warm-up (transient working memory included). */
  peakMiB: number | null;
  /** The highest window's median over the first's; the criterion. */
  growthPct: number | null;
  pass: boolean;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The samples from `warm` on, as sample indexes in consecutive windows of equal length (`seconds`):
 * about `WINDOW_S` each, at least two.
 */
export function windows(samples: readonly RssSample[], warm: number): { seconds: number; indexes: number[][] } {
  const after = samples.slice(warm).map((sample, i) => ({ atS: sample.atS, index: warm + i }));
  const span = after.length === 0 ? 0 : after.at(-1)!.atS - after[0]!.atS;
  if (span <= 0) return { seconds: span, indexes: after.length === 0 ? [] : [after.map(({ index }) => index)] };
  const count = Math.max(2, Math.round(span / WINDOW_S));
  const indexes: number[][] = Array.from({ length: count }, () => []);
  for (const { atS, index } of after) indexes[Math.min(count - 1, Math.floor(((atS - after[0]!.atS) * count) / span))]!.push(index);
  return { seconds: span / count, indexes: indexes.filter((window) => window.length > 0) };
}

/**
 * Per instance: RSS growth after warm-up as the highest window median over the first (≤ 15%).
 * Medians, not single samples: a login's argon2 hash holds ~19 MiB while it runs, so a sample
 * taken during one is that much higher than the samples around it; a leak moves every later
 * window's median, a hash in flight none.
 */
export function memory(instances: readonly { id: string; pid: number }[], samples: readonly RssSample[], warm: number): InstanceMemory[] {
  const cuts = windows(samples, warm).indexes;
  return instances.map(({ id, pid }, i) => {
    const series = samples.map((sample) => sample.rss[i] ?? null);
    const after = series.slice(warm);
    const complete = cuts.length > 0 && after.every((value) => value !== null);
    const medians = complete ? cuts.map((cut) => median(cut.map((index) => series[index]!))) : [];
    const start = medians[0] ?? null;
    const highest = complete ? Math.max(...medians) : null;
    const growth = start !== null && highest !== null ? (highest - start) / start : null;
    const inMiB = (bytes: number | null | undefined) => (bytes === null || bytes === undefined ? null : mib(bytes));
    return {
      id,
      pid,
      bootMiB: inMiB(series[0]),
      startMiB: inMiB(start),
      highestMiB: inMiB(highest),
      endMiB: inMiB(medians.at(-1)),
      peakMiB: complete ? mib(Math.max(...(after as number[]))) : null,
      growthPct: growth === null ? null : Math.round(growth * 1000) / 10,
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
  /** The windows' length in seconds. */
  windowS: number;
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
  lines.push(
    '',
    `RSS per instance (MiB): at boot; medians of the ${report.windowS} s windows after the ${report.warmupS} s warm-up: first, highest, last;`,
    `highest single sample; growth = highest window / first window (target ≤ ${MAX_GROWTH * 100}%)`,
  );
  for (const m of report.memory) {
    lines.push(
      `  ${m.id.padEnd(6)} pid ${String(m.pid).padEnd(8)} ${pad(num(m.bootMiB), 6)} ${pad(num(m.startMiB), 6)} ${pad(num(m.highestMiB), 6)} ${pad(num(m.endMiB), 6)}` +
        ` ${pad(num(m.peakMiB), 6)}  growth ${num(m.growthPct, '%')}: ${m.pass ? 'pass' : 'FAIL'}`,
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
