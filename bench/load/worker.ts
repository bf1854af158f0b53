/**
 * The load generator: a long-lived child on the client core, driven over IPC by
 * `bench/load/driver.ts`. It exits when its parent goes away.
 */
import type { LoadJob, LoadResult } from './jobs.js';
import { propagation } from './propagation.js';
import { loginStorm } from './storm.js';
import { coldLoad, httpLoad, refreshLoad } from './throughput.js';

function run(job: LoadJob): Promise<LoadResult> {
  switch (job.kind) {
    case 'http':
      return httpLoad(job);
    case 'cold':
      return coldLoad(job);
    case 'refresh':
      return refreshLoad(job);
    case 'storm':
      return loginStorm(job);
    case 'propagation':
      return propagation(job);
  }
}

process.on('message', (message: { id: number; job: LoadJob }) => {
  run(message.job).then(
    (result) => process.send?.({ id: message.id, result }),
    (error: unknown) => process.send?.({ id: message.id, error: error instanceof Error ? error.stack ?? error.message : String(error) }),
  );
});
// The parent stops everything in order on Ctrl-C; this process ends when the parent lets go of it.
process.on('SIGINT', () => {});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
