import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDataDir } from '../users/data-dir.js';

/**
 * Development only: reads `name` from the data directory, creating it with `make()` on first
 * use (mode 0600). Used by the embedded single-instance default when no key is configured.
 */
export function devSecret(dataDir: string, name: string, make: () => string): { value: string; created: boolean } {
  const path = join(dataDir, name);
  if (existsSync(path)) return { value: readFileSync(path, 'utf8'), created: false };
  makeDataDir(dataDir);
  const value = make();
  writeFileSync(path, value, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return { value, created: true };
}
