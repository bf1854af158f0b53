import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A command-line mistake: one line on stderr, exit 2. */
export class UsageError extends Error {}

/** `parseArgs`, refusing a bad command line with a `UsageError` of one line. */
export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    // Node's message goes on about positionals after `--`: its first sentence is the point.
    throw new UsageError(error instanceof Error ? (error.message.split(/\.\s|\n/)[0] ?? 'bad arguments') : 'bad arguments');
  }
}
