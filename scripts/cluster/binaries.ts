import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Newest first: `/usr/lib/postgresql/<version>/bin` (Debian keeps the server binaries off PATH). */
export function postgresBinDirs(): string[] {
  const root = '/usr/lib/postgresql';
  try {
    return readdirSync(root)
      .sort((a, b) => Number(b) - Number(a))
      .map((version) => join(root, version, 'bin'));
  } catch {
    return [];
  }
}

/**
 * The path of executable `name` on PATH or in `extraDirs`.
 * @throws naming the package to install when it is missing
 */
export function requireBinary(name: string, install: string, extraDirs: readonly string[] = []): string {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  const found = dirs.map((dir) => join(dir, name)).find(isExecutable);
  if (!found) throw new Error(`${name} not found: install it (apt-get install ${install})`);
  return found;
}
