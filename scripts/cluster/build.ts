import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root directory (the instances' and the build's working directory). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What the image runs, once built, relative to `REPO_ROOT`. */
export const DIST_ENTRY = 'dist/main.js';
export const DIST_MAIN = join(REPO_ROOT, DIST_ENTRY);

/**
 * Compiles the service as `npm run build` does (tsc -p tsconfig.build.json) into `outDir`, the
 * repository's `dist/` by default: what the image runs.
 */
export function buildService(outDir?: string): void {
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = [tsc, '-p', 'tsconfig.build.json', ...(outDir === undefined ? [] : ['--outDir', outDir])];
  try {
    execFileSync(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const output = (error as { stdout?: Buffer }).stdout?.toString().trim() ?? String(error);
    throw new Error(`build failed:\n${output}`);
  }
}
