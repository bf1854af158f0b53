import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pinned, SERVER_CPU } from '../machine.js';
import { REPO_ROOT } from '../../scripts/cluster/build.js';
import type { CeilingJob, CeilingResult } from './jobs.js';

const run = promisify(execFile);

/** Runs one ceiling in its own process pinned to the server's core (the server sits idle meanwhile). */
export async function measureCeiling(job: CeilingJob): Promise<CeilingResult> {
  const script = join(REPO_ROOT, 'bench', 'ceilings', 'worker.ts');
  const [command, args] = pinned(SERVER_CPU, process.execPath, ['--import', 'tsx', script, JSON.stringify(job)]);
  const { stdout } = await run(command, args, { cwd: REPO_ROOT, timeout: job.ms + 30_000, killSignal: 'SIGKILL' });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as CeilingResult;
}
