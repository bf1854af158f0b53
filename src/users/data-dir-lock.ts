import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, linkSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../http/errors.js';

const LOCK_FILE = 'jwt-cluster.pid';
/** Each round either claims the lock, refuses, or removes one stale lock: this many means a fight. */
const MAX_ROUNDS = 100;

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

function isRunning(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

/** The lock file's holder (NaN if it holds no pid) and inode, read through one descriptor; `undefined` once it is gone. */
function readLock(path: string): { holder: number; ino: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return { holder: Number.parseInt(readFileSync(fd, 'utf8'), 10), ino: fstatSync(fd).ino };
  } finally {
    closeSync(fd);
  }
}

/**
 * Removes the lock at `path` only if it is still the stale file that was read (`ino`). It is
 * renamed aside first (atomic), so a lock another process has just claimed in its place is
 * never deleted: one moved aside by mistake is linked back.
 */
function removeStale(path: string, ino: number, aside: string): void {
  try {
    renameSync(path, aside);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  try {
    if (statSync(aside).ino !== ino) linkSync(aside, path);
  } catch (error) {
    // EEXIST: yet another process claimed the lock meanwhile; its lock stands.
    if (errorCode(error) !== 'EEXIST') throw error;
  } finally {
    rmSync(aside, { force: true });
  }
}

/**
 * Claims the embedded database directory for this process (`<dataDir>/jwt-cluster.pid`).
 * PGlite keeps pages in memory, so a second process on the same directory (a server and
 * `npm run admin`) would silently lose writes. A lock left by a dead process is taken over.
 * Returns the release function.
 *
 * Safe against processes starting at the same moment: the pid is written to a file of this
 * process's own and hard-linked into place (a link fails if the lock exists, and nobody reads
 * a half-written lock), and a stale lock is removed only if it is still the one found stale.
 *
 * @throws {AppError} `unavailable` while another live process holds the directory
 */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  const draft = `${path}.${process.pid}.${randomBytes(6).toString('hex')}`;
  writeFileSync(draft, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
  const mine = statSync(draft).ino;
  try {
    for (let round = 0; ; round++) {
      try {
        linkSync(draft, path);
        break;
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error;
      }
      const lock = readLock(path);
      if (lock === undefined) continue;
      if (isRunning(lock.holder)) {
        throw new AppError('unavailable', `the embedded database in ${dataDir} is in use by process ${lock.holder}; stop it first (PGlite serves one process)`);
      }
      if (round >= MAX_ROUNDS) throw new AppError('unavailable', `could not claim the embedded database in ${dataDir}: other processes keep replacing ${LOCK_FILE}`);
      removeStale(path, lock.ino, `${draft}.stale`);
    }
  } finally {
    rmSync(draft, { force: true });
  }
  return () => {
    try {
      if (readLock(path)?.ino === mine) rmSync(path, { force: true });
    } catch {
      // Unreadable: nothing this process can release.
    }
  };
}
