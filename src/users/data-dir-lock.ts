import { createHash, randomBytes } from 'node:crypto';
import { linkSync, lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../errors.js';
import { readProcStat } from '../util/proc-stat.js';

const LOCK_FILE = 'jwt-cluster.pid';
/** How long a start waits for another process that is taking over a stale lock. */
const TAKEOVER_WAIT_MS = 5_000;

/** The texts of the locks this process holds: a second claim in this process is refused, not taken for a stale one. */
const held = new Set<string>();

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const unavailable = (message: string) => new AppError('unavailable', message);

function isRunning(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

/** `/proc` text, or '' where there is none (not Linux). */
function proc(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * A running process as no other process will ever be (Linux): the boot it runs in and its start
 * time in clock ticks; '' where `/proc` cannot tell.
 */
function incarnation(pid: number): string {
  const boot = proc('/proc/sys/kernel/random/boot_id').trim();
  const started = readProcStat(`/proc/${pid}/stat`)?.(22); // starttime
  return boot && started ? `${boot} ${started}` : '';
}

/**
 * Whether the process a lock file names (its first line) still runs. Its third line, where
 * present, is that process's incarnation: a pid reused since (after a reboot, say) reads as dead.
 */
function holderAlive(text: string): boolean {
  const pid = Number.parseInt(text, 10);
  if (!isRunning(pid)) return false;
  const recorded = text.split('\n')[2];
  if (!recorded) return true;
  const now = incarnation(pid);
  return now === '' || now === recorded;
}

/** A lock file's text (its first line is the holder's pid), or `undefined` once it is gone. */
function read(path: string): string | undefined {
  try {
    if (!lstatSync(path).isFile()) throw unavailable(`${path} is not a regular file: remove it`);
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Creates `path` as a hard link to `draft` unless `path` exists (false then). The link makes
 * the file appear complete: nobody reads a half-written lock.
 */
function link(draft: string, path: string): boolean {
  try {
    linkSync(draft, path);
    return true;
  } catch (error) {
    const code = errorCode(error);
    if (code === 'EEXIST') return false;
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
      throw unavailable(`the embedded database needs a filesystem with hard links for its lock file; ${path} is on one without (${code}): put database.data_dir on a local disk`);
    }
    throw error;
  }
}

/**
 * Removes `file` if it still reads `text` (a dead process's), holding the breaker named after
 * `text` while it checks and removes: of processes that found the same stale file, one removes
 * it, and as no text is written twice, a file claimed meanwhile in its place is never removed.
 * A breaker whose own holder died is removed the same way, under a breaker named after its text.
 * Returns false while a live process holds the breaker.
 */
function removeStale(lockPath: string, file: string, text: string, draft: string): boolean {
  const breaker = `${lockPath}.break-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
  if (link(draft, breaker)) {
    try {
      if (read(file) === text) rmSync(file, { force: true });
    } finally {
      rmSync(breaker, { force: true });
    }
    return true;
  }
  const breaking = read(breaker);
  if (breaking === undefined) return true;
  return breaking !== '' && !holderAlive(breaking) && removeStale(lockPath, breaker, breaking, draft);
}

/** Drafts and breakers (`jwt-cluster.pid.*`) that processes which have since died left behind. */
function removeLeftovers(dataDir: string): void {
  for (const name of readdirSync(dataDir)) {
    if (!name.startsWith(`${LOCK_FILE}.`)) continue;
    const file = join(dataDir, name);
    try {
      // A draft is empty for a moment while its process writes it: only a dead pid condemns a file.
      const text = read(file) ?? '';
      const pid = Number.parseInt(text, 10);
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && !holderAlive(text)) rmSync(file, { force: true });
    } catch {
      // Not ours to judge (not a regular file): left alone.
    }
  }
}

/**
 * Claims the embedded database directory for this process (`<dataDir>/jwt-cluster.pid`).
 * PGlite keeps pages in memory, so a second process on the same directory (a server and
 * `npm run admin`) would silently lose writes. Returns the release function.
 *
 * Of processes starting at the same moment, exactly one claims the directory: each writes its
 * pid, a random token and its incarnation to a draft of its own and hard-links it into place, which fails if a
 * lock exists. A lock whose process is dead is removed by one process at a time, the one that
 * links the breaker named after that lock's text, and only while the lock still has that text
 * (`removeStale`).
 *
 * @throws {AppError} `unavailable` while another live process holds the directory, or the lock cannot be settled
 */
export function lockDataDir(dataDir: string, { takeoverWaitMs = TAKEOVER_WAIT_MS } = {}): () => void {
  const path = join(dataDir, LOCK_FILE);
  const token = randomBytes(8).toString('hex');
  const mine = `${process.pid}\n${token}\n${incarnation(process.pid)}\n`;
  const draft = `${path}.${token}`;
  const deadline = performance.now() + takeoverWaitMs;
  try {
    writeFileSync(draft, mine, { flag: 'wx', mode: 0o600 });
    for (;;) {
      if (link(draft, path)) break;
      const lock = read(path);
      if (lock === undefined) {
        pause(1);
        continue;
      }
      if (held.has(lock)) throw unavailable(`the embedded database in ${dataDir} is already open in this process`);
      if (holderAlive(lock)) {
        throw unavailable(`the embedded database in ${dataDir} is in use by process ${Number.parseInt(lock, 10)}; stop it first (PGlite serves one process)`);
      }
      if (removeStale(path, path, lock, draft)) continue;
      if (performance.now() > deadline) throw unavailable(`another process has been taking over the stale lock of ${dataDir} for ${takeoverWaitMs / 1000} s; retry`);
      pause(1);
    }
  } finally {
    rmSync(draft, { force: true });
  }
  held.add(mine);
  try {
    removeLeftovers(dataDir);
  } catch {
    // Tidying only: the lock is claimed either way.
  }
  // Only a breaker removes a lock, and only a dead process's: this one stays ours until released.
  return () => {
    held.delete(mine);
    try {
      if (read(path) === mine) rmSync(path, { force: true });
    } catch {
      // Unreadable: nothing this process can release.
    }
  };
}
