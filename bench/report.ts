import { writeFileSync } from 'node:fs';
import type { MachineInfo } from './machine.js';
import type { Plan } from './scenarios/context.js';
import type { PropagationResult } from './scenarios/propagation.js';
import type { Sample } from './scenarios/sample.js';
import { median, percentile } from './stats.js';

/** Every measured series, by key; each holds one sample per repetition. */
export type Series = Record<
  'bare' | 'shaped' | 'exact' | 'cached' | 'bareAt50' | 'bareAt80' | 'exactAt50' | 'cachedAt80' | 'verify' | 'verifyBound' | 'coldExact' | 'coldCached' | 'argon2' | 'loginsAlone' | 'loginsBeside' | 'logins' | 'stormAuth' | 'pacedFloor' | 'stormFloor' | 'sign' | 'signBound' | 'refresh',
  Sample[]
>;

export interface Row {
  id: string;
  scenario: string;
  rps: number;
  p50?: number;
  p99?: number;
  /** Against `baseline` (a row id), both medians of the same run. */
  ratio?: number;
  baseline?: string;
  cpuUsPerRequest?: number;
  target?: string;
  pass?: boolean;
  note?: string;
}

interface RowSpec {
  id: string;
  scenario: string;
  series: keyof Series;
  baseline?: keyof Series;
  baselineId?: string;
  /** Every response must be 2xx for the numbers to mean anything. */
  allOk?: boolean;
  /** The row's bound, what this machine allows it (d1: one exchange around the signature; e2: e′'s load on bare): the note says how near it comes. */
  bound?: { series: keyof Series; id: string };
  /** A paced load: its verdict takes each round's p99 counting late sends (`pacedP99`). */
  paced?: boolean;
  /** A paced row's floor: bare `node:http` paced at the same rate; the note gives its p99 beside the row's. */
  floor?: { series: keyof Series; id: string };
  target?: { text: string; minRatio?: number; maxP99?: number };
}

const D1 = { series: 'verifyBound', id: 'd1' } as const;
const A_AT_50 = { series: 'bareAt50', id: 'a@50%' } as const;
const A_AT_80 = { series: 'bareAt80', id: 'a@80%' } as const;
const P99_AT_LOAD = { text: 'p99 ≤ 3 ms at that load', maxP99: 3 };

const SPECS: RowSpec[] = [
  { id: 'a', scenario: 'bare node:http (baseline)', series: 'bare', allOk: true },
  { id: 'a′', scenario: "node:http, /authenticate's response, no logic", series: 'shaped', baseline: 'bare', baselineId: 'a', allOk: true },
  { id: 'b', scenario: '/authenticate exact, 1,000 tokens', series: 'exact', baseline: 'bare', baselineId: 'a', allOk: true, target: { text: '≥50% of a', minRatio: 0.5 } },
  { id: 'c', scenario: '/authenticate cached, 1,000 tokens', series: 'cached', baseline: 'bare', baselineId: 'a', allOk: true, target: { text: '≥80% of a', minRatio: 0.8 } },
  { id: 'a@50%', scenario: "a's requests paced at 50% of a's rate (wrk): b@50%'s floor", series: 'bareAt50', baseline: 'bare', baselineId: 'a', allOk: true, paced: true },
  { id: 'a@80%', scenario: "a's requests paced at 80% of a's rate (wrk): c@80%'s floor", series: 'bareAt80', baseline: 'bare', baselineId: 'a', allOk: true, paced: true },
  { id: 'b@50%', scenario: "b's requests paced at 50% of a's rate (wrk)", series: 'exactAt50', baseline: 'bare', baselineId: 'a', allOk: true, paced: true, floor: A_AT_50, target: P99_AT_LOAD },
  { id: 'c@80%', scenario: "c's requests paced at 80% of a's rate (wrk)", series: 'cachedAt80', baseline: 'bare', baselineId: 'a', allOk: true, paced: true, floor: A_AT_80, target: P99_AT_LOAD },
  { id: 'd0', scenario: 'EdDSA verify alone (node:crypto)', series: 'verify' },
  { id: 'd1', scenario: "node:http + d0's verify per request, nothing else: d's bound", series: 'verifyBound', baseline: 'verify', baselineId: 'd0', allOk: true },
  { id: 'd', scenario: '/authenticate cold tokens, exact', series: 'coldExact', baseline: 'verify', baselineId: 'd0', allOk: true, bound: D1, target: { text: '≥80% of d0', minRatio: 0.8 } },
  { id: 'd′', scenario: '/authenticate cold tokens, cached', series: 'coldCached', baseline: 'verify', baselineId: 'd0', allOk: true, bound: D1, target: { text: '≥80% of d0', minRatio: 0.8 } },
  { id: 'e0', scenario: 'argon2id verify alone', series: 'argon2' },
  { id: 'e1', scenario: 'login storm alone (no gateway load; 40% as long)', series: 'loginsAlone', baseline: 'argon2', baselineId: 'e0' },
  { id: 'e2', scenario: "login storm beside e′'s load on bare node:http, same core (40% as long): e's bound", series: 'loginsBeside', baseline: 'argon2', baselineId: 'e0' },
  { id: 'e', scenario: "login storm: logins (200 clients), with e′'s load", series: 'logins', baseline: 'argon2', baselineId: 'e0', bound: { series: 'loginsBeside', id: 'e2' }, target: { text: '≥80% of e0', minRatio: 0.8 } },
  { id: 'e′', scenario: '/authenticate during the storm', series: 'stormAuth', allOk: true, target: { text: 'p99 ≤ 10 ms', maxP99: 10 } },
  { id: 'e′0', scenario: "e′'s paced load on bare node:http, no storm", series: 'pacedFloor', allOk: true },
  { id: 'e′1', scenario: "e′'s load on bare node:http during a storm on the service, same core: e′'s bound", series: 'stormFloor', allOk: true },
  { id: 'f0', scenario: 'sign access tokens alone', series: 'sign' },
  { id: 'f1', scenario: "node:http + f0's sign per POST, nothing else: f's bound", series: 'signBound', baseline: 'sign', baselineId: 'f0', allOk: true },
  { id: 'f', scenario: '/refresh', series: 'refresh', baseline: 'sign', baselineId: 'f0', allOk: true, bound: { series: 'signBound', id: 'f1' }, target: { text: '≥60% of f0', minRatio: 0.6 } },
];

const medianOf = (samples: Sample[], pick: (s: Sample) => number | undefined) => median(samples.map((s) => pick(s) ?? Number.NaN));
const finite = (value: number) => (Number.isFinite(value) ? value : undefined);

/** A paced round counts only if it reached this share of the rate asked. */
const DELIVERED_SHARE = 0.97;

/**
 * A paced round's p99 for the verdict: late sends counted as slower than every answer (wrk
 * leaves their wait out); Infinity if the round fell short of its rate or sent 1% or more late.
 */
const pacedP99 = (s: Sample) =>
  s.askedRate !== undefined && s.rps >= s.askedRate * DELIVERED_SHARE && s.p99CountingLate !== undefined ? s.p99CountingLate : Infinity;

/** The median of the rounds' `pacedP99` (the upper one of an even count), and notes saying what it is and which rounds did not count. */
function pacedVerdict(samples: Sample[]): { p99: number; notes: string[] } {
  // Not `median`, which drops non-finite values: a round that does not count is an Infinity here.
  const perRound = samples.map(pacedP99).sort((a, b) => a - b);
  const p99 = perRound[Math.floor(perRound.length / 2)] ?? Infinity;
  const voided = perRound.filter((value) => value === Infinity).length;
  const notes = Number.isFinite(p99) ? [`p99 counting late sends ${number(p99, 2)} ms`] : [];
  if (samples.some((s) => s.lateSends === undefined)) notes.push('paced without wrk: late sends not counted');
  else if (voided > 0) notes.push(`${voided} of ${samples.length} rounds short of the rate or with ≥ 1% sent late`);
  return { p99, notes };
}

/** Non-2xx answers by status, e.g. `503×380`. */
function statusNote(samples: Sample[]): string {
  const counts: Record<string, number> = {};
  for (const sample of samples) for (const [status, n] of Object.entries(sample.statuses ?? {})) counts[status] = (counts[status] ?? 0) + n;
  return Object.entries(counts)
    .filter(([status]) => !status.startsWith('2'))
    .map(([status, n]) => `${status}×${n}`)
    .join(', ');
}

function rowFor(spec: RowSpec, series: Series): Row {
  const samples = series[spec.series];
  const rps = medianOf(samples, (s) => s.rps);
  const p99 = finite(medianOf(samples, (s) => s.p99));
  const ratio = spec.baseline ? rps / medianOf(series[spec.baseline], (s) => s.rps) : undefined;
  const failures = samples.reduce((sum, s) => sum + s.failures, 0);
  const requests = samples.reduce((sum, s) => sum + s.requests, 0);
  const notes: string[] = [];
  if (spec.bound) notes.push(`${number((100 * rps) / medianOf(series[spec.bound.series], (s) => s.rps))}% of ${spec.bound.id}`);
  if (failures > 0) notes.push(spec.allOk ? `${failures} of ${requests} not 2xx` : `${statusNote(samples)} of ${requests}`);
  const paced = spec.paced ? pacedVerdict(samples) : undefined;
  if (paced) notes.push(...paced.notes);
  if (spec.floor) {
    const floor = pacedVerdict(series[spec.floor.series]).p99;
    notes.push(`floor ${spec.floor.id}: ${Number.isFinite(floor) ? `${number(floor, 2)} ms counting late sends` : 'no p99 holds'}`);
  }
  const { target } = spec;
  let pass: boolean | undefined;
  if (target) {
    pass =
      !(spec.allOk && failures > 0) &&
      (target.minRatio === undefined || (ratio ?? 0) >= target.minRatio) &&
      (target.maxP99 === undefined || (paced?.p99 ?? p99 ?? Infinity) <= target.maxP99);
  }
  return {
    id: spec.id,
    scenario: spec.scenario,
    rps,
    p50: finite(medianOf(samples, (s) => s.p50)),
    p99,
    ratio: spec.baseline ? ratio : spec.id === 'a' ? 1 : undefined,
    baseline: spec.baselineId,
    cpuUsPerRequest: finite(medianOf(samples, (s) => s.cpuUsPerRequest)),
    target: target?.text,
    pass,
    note: notes.join('; ') || undefined,
  };
}

function propagationRow(result: PropagationResult, plan: Plan): Row {
  const p99 = percentile(result.latenciesMs, 0.99);
  const notes = [
    `${result.latenciesMs.length}/${result.revocations} revocations, ${result.instances} instances`,
    `${result.acceptedAfterResponse} still accepted by a first check sent after the revoking response`,
  ];
  if (result.timedOut > 0) notes.push(`${result.timedOut} still accepted after 2 s`);
  if (result.notLive > 0) notes.push(`${result.notLive} tokens not live before revoking`);
  if (plan.revocations < 200) notes.push('quick: fewer than the 200 the target asks for');
  return {
    id: 'g',
    scenario: 'revocation propagation, cached',
    rps: Number.NaN,
    p50: finite(percentile(result.latenciesMs, 0.5)),
    p99: finite(p99),
    target: 'p99 ≤ 50 ms',
    pass: result.timedOut === 0 && result.notLive === 0 && p99 <= 50,
    note: notes.join('; '),
  };
}

/** One row per scenario: medians over repetitions, ratios against baselines of the same run, target verdicts. */
export function buildRows(series: Series, propagation: PropagationResult, plan: Plan): Row[] {
  return [...SPECS.map((spec) => rowFor(spec, series)), propagationRow(propagation, plan)];
}

const number = (value: number | undefined, digits = 0) =>
  value === undefined || !Number.isFinite(value) ? '–' : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The table as Markdown, so it pastes into the README unchanged. */
export function formatTable(rows: Row[]): string {
  const header = ['', 'scenario', 'req/s', 'p50 ms', 'p99 ms', 'ratio', 'CPU µs/req', 'target', 'result'];
  const lines = rows.map((row) => [
    row.id,
    row.scenario,
    number(row.rps),
    number(row.p50, 2),
    number(row.p99, 2),
    row.ratio === undefined ? '' : `${number(row.ratio * 100)}%${row.baseline ? ` of ${row.baseline}` : ''}`,
    number(row.cpuUsPerRequest, 1),
    row.target ?? '',
    [row.pass === undefined ? '' : row.pass ? 'pass' : 'FAIL', row.note ? `(${row.note})` : ''].filter(Boolean).join(' '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((line) => (line[i] as string).length)));
  const render = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] as number)).join(' | ')} |`;
  return [render(header), render(widths.map((w) => '-'.repeat(w))), ...lines.map(render)].join('\n');
}

export interface Results {
  plan: Plan;
  machine: MachineInfo;
  loadAverageAtEnd: number[];
  loadGenerator: string;
  startedAt: string;
  seconds: number;
  rows: Row[];
  series: Series;
  propagation: PropagationResult;
}

/** Writes everything measured, with the machine it ran on, as JSON. */
export function writeResults(file: string, results: Results): void {
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
}
