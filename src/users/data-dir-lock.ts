import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../http/errors.js';

const LOCK_FILE = 'jwt-cluster.pid';
/** Held (for a few system calls) by the one process removing a stale lock. */
const BREAKER_FILE = `${LOCK_FILE}.break`;
/** A breaker this old was left by a process that died while removing a stale lock. */
const STALE_BREAKER_MS = 10_000;
/** A lock file this young and still empty is being written by a filesystem without hard links. */
const WRITING_MS = 50;
/** Each round claims, refuses, waits a millisecond or removes a stale lock: this many means a fight. */
const MAX_ROUNDS = 100;

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function isRunning(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

/** The file's text and age in ms, or `undefined` once it is gone. */
function read(path: string): { text: string; ageMs: number } | undefined {
  try {
    return { text: readFileSync(path, 'utf8'), ageMs: Date.now() - statSync(path).mtimeMs };
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Creates `path` with `draft`'s content unless it exists (false then). A hard link makes it
 * appear complete, so nobody reads a half-written lock; where the filesystem has no hard links
 * it is written with an exclusive create instead, and an empty young lock reads as being written.
 */
function claim(draft: string, text: string, path: string): boolean {
  try {
    linkSync(draft, path);
    return true;
  } catch (error) {
    const code = errorCode(error);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
  }
  try {
    writeFileSync(path, text, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  }
}

/**
 * Removes the lock at `path` if it still reads `dead`, holding the breaker while it checks and
 * removes: of processes that found the same stale lock, one removes it, and none can remove a
 * lock claimed in its place (a claim only succeeds once the path is free, and only a breaker
 * frees it).
 */
function breakStale(path: string, breaker: string, draft: string, mine: string, dead: string): void {
  if (!claim(draft, mine, breaker)) {
    const held = read(breaker);
    if (held !== undefined && held.ageMs > STALE_BREAKER_MS) rmSync(breaker, { force: true });
    else pause(1);
    return;
  }
  try {
    if (read(path)?.text === dead) rmSync(path, { force: true });
  } finally {
    rmSync(breaker, { force: true });
  }
}

/**
 * Claims the embedded database directory for this process (`<dataDir>/jwt-cluster.pid`: its pid
 * and a random token). PGlite keeps pages in memory, so a second process on the same directory
 * (a server and `npm run admin`) would silently lose writes. A lock left by a dead process is
 * taken over. Of processes starting at the same moment, exactly one claims the directory.
 * Returns the release function.
 *
 * @throws {AppError} `unavailable` while another live process holds the directory
 */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  const token = randomBytes(8).toString('hex');
  const mine = `${process.pid}\n${token}\n`;
  const draft = `${path}.${token}`;
  try {
    writeFileSync(draft, mine, { flag: 'wx', mode: 0o600 });
    for (let round = 0; ; round++) {
      if (round === MAX_ROUNDS) throw new AppError('unavailable', `could not claim the embedded database in ${dataDir}: ${LOCK_FILE} keeps changing (or is not a regular file)`);
      if (claim(draft, mine, path)) break;
      const lock = read(path);
      if (lock === undefined) continue;
      if (lock.text === '' && lock.ageMs < WRITING_MS) {
        pause(1);
        continue;
      }
      const holder = Number.parseInt(lock.text, 10);
      if (isRunning(holder)) {
        throw new AppError('unavailable', `the embedded database in ${dataDir} is in use by process ${holder}; stop it first (PGlite serves one process)`);
      }
      breakStale(path, join(dataDir, BREAKER_FILE), draft, mine, lock.text);
    }
  } finally {
    rmSync(draft, { force: true });
  }
  // Nobody removes a live process's lock, so it is still ours unless someone deleted it by hand.
  return () => {
    try {
      if (read(path)?.text === mine) rmSync(path, { force: true });
    } catch {
      // Unreadable: nothing this process can release.
    }
  };
}
