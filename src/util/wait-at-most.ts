/**
 * Waits until `work` settles or `ms` have passed, whichever comes first: a shutdown step's bound.
 * Never rejects (what `work` failed with is its own to report).
 */
export async function waitAtMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([work.then(noop, noop), timeUp]);
  clearTimeout(timer);
}

const noop = () => {};
