import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/**
 * tsx's loader, for `node --import` in tests that run TypeScript in a child process. Not the tsx
 * CLI: it relays a SIGTERM to its child and, if the child does not confirm within 30 ms (a busy
 * machine), kills it with SIGKILL and exits 143.
 */
export const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
