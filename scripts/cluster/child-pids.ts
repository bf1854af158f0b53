import { readdirSync } from 'node:fs';
import { readProcStat } from '../../src/util/proc-stat.js';

/** Pids whose parent is `pid`, from /proc (Linux); empty where /proc is unavailable. */
export function childPids(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const children: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    // Undefined when the process ended while we looked.
    if (Number(readProcStat(`/proc/${entry}/stat`)?.(4)) === pid) children.push(Number(entry)); // ppid
  }
  return children;
}
