/**
 * Lets a repeated log line through at most once per `intervalMs`, telling it how many were held
 * back since the last one. For lines that an outage would otherwise write per request: during a
 * Redis outage, one warning with a stack per `/authenticate` (synchronous with text logs) would
 * cost the event loop more than the requests themselves. The count held back is told with the
 * next line written; the metrics count every occurrence.
 */
export function createLogThrottle(intervalMs: number, now: () => number = Date.now) {
  let last = Number.NEGATIVE_INFINITY;
  let held = 0;
  return (write: (suppressed: number) => void): void => {
    const at = now();
    if (at - last < intervalMs) {
      held += 1;
      return;
    }
    last = at;
    const suppressed = held;
    held = 0;
    write(suppressed);
  };
}
