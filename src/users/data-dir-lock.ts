import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../http/errors.js';

const LOCK_FILE = 'jwt-cluster.pid';

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

/**
 * Claims the embedded database directory for this process (`<dataDir>/jwt-cluster.pid`).
 * PGlite keeps pages in memory, so a second process on the same directory (a server and
 * `npm run admin`) would silently lose writes. A lock left by a dead process is taken over.
 * Returns the release function.
 *
 * @throws {AppError} `unavailable` while another live process holds the directory
 */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  const mine = `${process.pid}\n`;
  for (;;) {
    try {
      writeFileSync(path, mine, { flag: 'wx' });
      break;
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(readFileSync(path, 'utf8'), 10);
    if (isRunning(holder)) {
      throw new AppError('unavailable', `the embedded database in ${dataDir} is in use by process ${holder}; stop it first (PGlite serves one process)`);
    }
    rmSync(path, { force: true });
  }
  return () => {
    try {
      if (readFileSync(path, 'utf8') === mine) rmSync(path, { force: true });
    } catch {
      // Already gone: nothing to release.
    }
  };
}
