import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `assets/common-passwords.txt` at the repository root, from `src/passwords/` (tsx, vitest) and `dist/passwords/` alike. */
export const commonPasswordsFile = fileURLToPath(new URL('../../assets/common-passwords.txt', import.meta.url));

/**
 * Reads a list of common passwords (one a line, most common first) into a set of lower-cased
 * entries. Synchronous: it runs once at start-up, and a missing file must stop the start.
 */
export function loadCommonPasswords(file = commonPasswordsFile): ReadonlySet<string> {
  const entries = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const entry = line.trim().toLowerCase();
    if (entry) entries.add(entry);
  }
  if (entries.size === 0) throw new Error(`${file}: no passwords in the common-password list`);
  return entries;
}
