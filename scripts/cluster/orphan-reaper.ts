import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';

/** How long the reaper waits after SIGTERM before it sends SIGKILL. */
export const REAPER_GRACE_MS = 3_000;

/**
 * The reaper, run by `node -e`: it reads `+pid N` / `-pid N` (a child started, a child ended)
 * and `+dir D` / `-dir D` (a temp dir made, removed) lines from a pipe whose other end only this
 * process holds. The pipe closes when this process ends, however it ends; the reaper then sends
 * SIGTERM to the process group of every child still listed and, `REAPER_GRACE_MS` later, SIGKILL
 * to the groups still there, then removes the dirs still listed. A process killed with SIGKILL
 * (or by the OOM killer) runs no exit hook, so without it its servers would run on.
 */
const PROGRAM = `
const listed = { pid: new Set(), dir: new Set() };
let partial = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  const lines = (partial + chunk).split('\\n');
  partial = lines.pop();
  for (const line of lines) {
    const [, sign, kind, value] = /^([+-])(pid|dir) (.+)$/.exec(line) ?? [];
    if (kind) sign === '+' ? listed[kind].add(value) : listed[kind].delete(value);
  }
});
process.stdin.on('end', () => {
  const signal = (name) => listed.pid.forEach((pid) => { try { process.kill(-Number(pid), name); } catch {} });
  const removeDirs = () => listed.dir.forEach((dir) => { try { require('node:fs').rmSync(dir, { recursive: true, force: true, maxRetries: 5 }); } catch {} });
  if (listed.pid.size === 0) return removeDirs();
  signal('SIGTERM');
  setTimeout(() => { signal('SIGKILL'); setTimeout(removeDirs, 100); }, ${REAPER_GRACE_MS});
});
`;

let reaper: ChildProcess | undefined;

/** Tells the reaper `line`, starting it on first use; it keeps neither this process alive nor its own group. */
function tell(line: string): void {
  if (!reaper) {
    const env = { ...process.env };
    delete env.NODE_OPTIONS; // a loader (tsx) given to this process is not needed there
    reaper = spawn(process.execPath, ['-e', PROGRAM], { stdio: ['pipe', 'ignore', 'ignore'], detached: true, env });
    reaper.unref();
    // Not started (EAGAIN, EMFILE): children are then stopped by the exit hooks alone, as before.
    reaper.on('error', () => undefined);
    // No stdin when the spawn failed early (EMFILE); the reaper gone (killed by hand): nothing to tell it.
    const input = reaper.stdin as Socket | null;
    input?.unref();
    input?.on('error', () => undefined);
  }
  reaper.stdin?.write(`${line}\n`);
}

/**
 * Has the reaper stop `pid`'s process group (a child spawned `detached`, so its own group: nginx's
 * workers and PostgreSQL's backends go with it) should this process end while it runs.
 * @returns what to call once the child has exited
 */
export function reapIfOrphaned(pid: number): () => void {
  tell(`+pid ${pid}`);
  return () => tell(`-pid ${pid}`);
}

/**
 * Has the reaper remove `dir` (after stopping the children) should this process end before it does.
 * @returns what to call once the dir is removed
 */
export function removeIfOrphaned(dir: string): () => void {
  tell(`+dir ${dir}`);
  return () => tell(`-dir ${dir}`);
}
