import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commonPasswordsFile } from '../src/passwords/common-passwords.js';

/**
 * Regenerates `assets/common-passwords.txt` from the ranked password list of an npm package
 * (`npx tsx scripts/update-common-passwords.ts [package@version]`). The package is only
 * downloaded with `npm pack` into a temporary directory; it never becomes a dependency.
 * Update `assets/README.md` when the package or version changes.
 */
const DEFAULT_SOURCE = '@zxcvbn-ts/language-common@4.1.3';
const LIST_IN_PACKAGE = 'package/src/passwords.json';

function main(source = DEFAULT_SOURCE): void {
  const dir = mkdtempSync(join(tmpdir(), 'common-passwords-'));
  try {
    const tarball = execFileSync('npm', ['pack', source, '--silent', '--pack-destination', dir], { encoding: 'utf8' }).trim().split('\n').at(-1);
    if (!tarball) throw new Error(`npm pack ${source} produced no tarball`);
    execFileSync('tar', ['-xzf', join(dir, tarball), '-C', dir, LIST_IN_PACKAGE]);
    const ranked: unknown = JSON.parse(readFileSync(join(dir, LIST_IN_PACKAGE), 'utf8'));
    if (!Array.isArray(ranked) || !ranked.every((entry) => typeof entry === 'string')) throw new Error(`${LIST_IN_PACKAGE} is not a string array`);
    // Most common first; lower-cased and deduplicated, keeping the first (best) rank.
    const entries = [...new Set(ranked.map((entry: string) => entry.trim().toLowerCase()).filter((entry) => entry !== ''))];
    if (entries.length < 10_000) throw new Error(`only ${entries.length} entries in ${source}`);
    writeFileSync(commonPasswordsFile, `${entries.join('\n')}\n`);
    process.stdout.write(`${entries.length} passwords from ${source} written to ${commonPasswordsFile}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main(process.argv[2]);
