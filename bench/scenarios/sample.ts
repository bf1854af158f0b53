import type { LoadSummary } from '../load/jobs.js';
import { cpuMicros } from '../machine.js';

/** One repetition of one scenario. */
export interface Sample {
  /** Successful (2xx) responses per second, or operations per second for a ceiling. */
  rps: number;
  p50?: number;
  p99?: number;
  /** Server CPU (user + system, all threads) per response, in µs. */
  cpuUsPerRequest?: number;
  /** Responses that were not 2xx, plus network errors. */
  failures: number;
  requests: number;
  /** Responses by status (wrk only tells 2xx/3xx from the rest). */
  statuses?: Record<string, number>;
  /** A paced load: the rate asked for, the requests sent late and the p99 counting them (`LoadSummary`). */
  askedRate?: number;
  lateSends?: number;
  p99CountingLate?: number;
}

/** Runs `load` and charges the server's CPU time during it to the responses it got. */
export async function measured(serverPid: number | undefined, load: () => Promise<LoadSummary>): Promise<Sample> {
  const before = serverPid === undefined ? undefined : cpuMicros(serverPid);
  const summary = await load();
  const after = serverPid === undefined ? undefined : cpuMicros(serverPid);
  return fromSummary(summary, before !== undefined && after !== undefined ? after - before : undefined);
}

/** A sample from a load summary; `cpuUs` is the server CPU time spent during it. */
export function fromSummary(summary: LoadSummary, cpuUs?: number): Sample {
  return {
    rps: summary.ok / summary.seconds,
    p50: summary.latency.p50,
    p99: summary.latency.p99,
    cpuUsPerRequest: cpuUs !== undefined && summary.requests > 0 ? cpuUs / summary.requests : undefined,
    failures: summary.requests - summary.ok + summary.errors,
    requests: summary.requests,
    statuses: summary.statuses,
    lateSends: summary.lateSends,
    p99CountingLate: summary.p99CountingLate,
  };
}

/** A ceiling measured without HTTP: only a rate. */
export const rateSample = (perSecond: number): Sample => ({ rps: perSecond, failures: 0, requests: 0 });
