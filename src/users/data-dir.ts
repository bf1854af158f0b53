import { mkdirSync } from 'node:fs';
import { ConfigError } from '../config/loader.js';

/**
 * Makes the embedded data directory (`database.data_dir`) for its owner only (0700) if it is
 * missing. Returns whether it was made now.
 * @throws {ConfigError} naming the key when it cannot be used (a file of that name, no permission)
 */
export function makeDataDir(dir: string): boolean {
  try {
    return mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined;
  } catch (error) {
    throw new ConfigError(`database.data_dir: cannot use ${dir} as a directory (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
