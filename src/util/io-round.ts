let waiting: Array<() => void> | undefined;

function release() {
  const ready = waiting ?? [];
  waiting = undefined;
  for (const resolve of ready) resolve();
}

/**
 * Resolves once every I/O callback already due in this round of the event loop has run (at its
 * `setImmediate` phase). All callers of one round share a single immediate.
 */
export function afterIoRound(): Promise<void> {
  return new Promise((resolve) => {
    if (!waiting) {
      waiting = [];
      setImmediate(release);
    }
    waiting.push(resolve);
  });
}
