import { CleanupStack } from '../scripts/cluster/cleanup.js';
import { UsageError } from '../src/util/cli-args.js';

/**
 * Runs `body` as the program `name`: on SIGINT/SIGTERM everything registered on `cleanup`
 * is stopped before exiting 130; otherwise it is stopped when `body` settles, then the exit
 * code is 0 (results are reported, never asserted), 1 for a harness error or 2 for a `UsageError`.
 */
export function runMain(name: string, body: (cleanup: CleanupStack) => Promise<void>): void {
  const cleanup = new CleanupStack();
  let interrupted = false;
  const interrupt = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`${name}: ${signal}: stopping everything started\n`);
    cleanup.run().then(
      () => process.exit(130),
      (error: unknown) => {
        process.stderr.write(`${name}: ${String(error)}\n`);
        process.exit(130);
      },
    );
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  const fail = (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${name}: ${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${name}: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  };
  body(cleanup)
    .then(
      () => cleanup.run(),
      async (error: unknown) => {
        // After a signal, work in flight fails as its processes stop; the signal handler exits.
        if (interrupted) return new Promise<never>(() => {});
        await cleanup.run().catch(() => {});
        throw error;
      },
    )
    .then(() => {
      if (!interrupted) process.exit(0);
    }, fail);
}
