import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeIfOrphaned } from './orphan-reaper.js';

/** Undo actions run last-in first-out; every one runs even when an earlier one fails. */
export class CleanupStack {
  private readonly actions: (() => Promise<unknown> | void)[] = [];

  add(action: () => Promise<unknown> | void): void {
    this.actions.push(action);
  }

  /** Runs and forgets every action; throws one error listing the failures, if any. */
  async run(): Promise<void> {
    const failures: string[] = [];
    for (const action of this.actions.splice(0).reverse()) {
      try {
        await action();
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }
    if (failures.length > 0) throw new Error(`cleanup failed:\n${failures.join('\n')}`);
  }
}

/**
 * A temp dir under `parent` removed by `cleanup`, or at the latest when this process exits
 * (killed with SIGKILL: by the orphan reaper).
 */
export function tempDir(cleanup: CleanupStack, prefix: string, parent = tmpdir()): string {
  const dir = mkdtempSync(join(parent, prefix));
  const reaped = removeIfOrphaned(dir);
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', remove);
  cleanup.add(() => {
    process.off('exit', remove);
    remove();
    reaped();
  });
  return dir;
}

/** Like Promise.all, but waits for every promise before rejecting, so nothing still starting is orphaned. */
export async function settleAll<T>(promises: readonly (T | Promise<T>)[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const values: T[] = [];
  for (const result of results) {
    if (result.status === 'rejected') throw result.reason;
    values.push(result.value);
  }
  return values;
}
