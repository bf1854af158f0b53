import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { readProcStat } from '../src/util/proc-stat.js';

/** The cpu the measured server runs on, and the one the load generator runs on. */
export const SERVER_CPU = 0;
export const CLIENT_CPU = 1;

const TASKSET = '/usr/bin/taskset';
const canPin = existsSync(TASKSET) && availableParallelism() >= 2;

/** `[command, args]` that runs `command args` pinned to `cpu` when `taskset` exists, unpinned otherwise. */
export function pinned(cpu: number, command: string, args: readonly string[]): [string, string[]] {
  return canPin ? [TASKSET, ['-c', String(cpu), command, ...args]] : [command, [...args]];
}

/** User + system CPU time of a process (all its threads) in microseconds, from /proc (Linux only). */
export function cpuMicros(pid: number): number | undefined {
  const field = readProcStat(`/proc/${pid}/stat`);
  if (!field) return undefined;
  const ticks = Number(field(14)) + Number(field(15)); // utime, stime
  return (ticks * 1_000_000) / CLOCK_TICKS;
}

/** `settled`: idle means under this share of one core over one step; it gives up after the timeout. */
const IDLE_SHARE = 0.05;
const SETTLE_STEP_MS = 250;
export const SETTLE_TIMEOUT_MS = 10_000;

/**
 * Resolves `true` once the process is idle, `false` if it is still busy after
 * `SETTLE_TIMEOUT_MS`: a server still working off a load (a login storm leaves up to 64 argon2
 * operations queued) would otherwise share the core with what is measured next.
 */
export async function settled(pid: number): Promise<boolean> {
  const deadline = performance.now() + SETTLE_TIMEOUT_MS;
  let last = cpuMicros(pid);
  while (last !== undefined && performance.now() < deadline) {
    await sleep(SETTLE_STEP_MS);
    const now = cpuMicros(pid);
    if (now === undefined || now - last < IDLE_SHARE * SETTLE_STEP_MS * 1000) return true;
    last = now;
  }
  return last === undefined;
}

/** USER_HZ: 100 on every Linux architecture Node supports. */
const CLOCK_TICKS = 100;

/** What the numbers were measured on. */
export function machineInfo() {
  const list = cpus();
  return {
    cpus: list.length,
    model: list[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadAverage: loadavg().map((value) => Math.round(value * 100) / 100),
    pinned: canPin,
    kernel: readText('/proc/sys/kernel/osrelease'),
  };
}

export type MachineInfo = ReturnType<typeof machineInfo>;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** `/proc/<pid>/smaps` (every mapping with its resident size), or undefined when the process is gone. */
export function smapsText(pid: number): string | undefined {
  return readText(`/proc/${pid}/smaps`);
}

/** Resident set size of a process in bytes, from /proc (Linux only). */
export function rssBytes(pid: number): number | undefined {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readText(`/proc/${pid}/status`) ?? '');
  return match ? Number(match[1]) * 1024 : undefined;
}
